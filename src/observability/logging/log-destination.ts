import type { DestinationStream } from 'pino';

// Where JSON log lines go: stdout in production; a test swaps in a collecting stream.
export abstract class LogDestination {
  abstract readonly stream: DestinationStream;
}

export class StdoutLogDestination extends LogDestination {
  readonly stream: DestinationStream = process.stdout;
}
