// Barriers for tests that assert something did NOT happen: the check is made after the step that would
// have done it, never after a pause.

// The status webhook and the outcome sweep publish call events with setImmediate (after the response is
// written), queueing them before the request answers or the pass returns. Immediates run in the order
// they were queued, so once a response or a pass result is in hand, an immediate queued now runs after
// every event that request or pass will ever publish.
export function afterQueuedPublications(): Promise<void> {
  return new Promise((resolve) => setImmediate(resolve));
}
