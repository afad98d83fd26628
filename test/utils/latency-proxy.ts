import { AddressInfo, createServer, Server, Socket, connect } from 'node:net';

export interface LatencyProxy {
  // The target's URI with its host:port replaced by the proxy's.
  uri: string;
  // Holds back every reply from the target by this many ms, from the next byte on.
  setReplyDelay(ms: number): void;
  // Resolves once every reply held back so far has been passed on (or its connection has closed).
  drained(): Promise<void>;
  // While on, replies are dropped and their connections stay open: a server that stops answering.
  setSwallowReplies(on: boolean): void;
  // Drops the reply to the next request whose latin1 text matches (`times` such requests), and keeps its
  // connection open: a command that was applied but whose reply was lost. Calls queue up in order: each
  // pattern waits until the one before it has dropped its reply. Only for replies of one TCP chunk (the
  // driver sends one command at a time on a connection; a reply split into chunks would pass its tail on).
  swallowReplyTo(request: RegExp, times?: number): void;
  // Patterns queued by swallowReplyTo that have not dropped a reply yet; clears them with `clear`.
  pendingSwallows(clear?: boolean): number;
  // The requests whose replies were dropped, as latin1 text (BSON keeps names and strings readable).
  readonly unanswered: string[];
  close(): Promise<void>;
}

// A TCP proxy in front of the test database that can make the way to it slow on demand, so a test can have a
// slow read by construction, whatever the database engine and its speed.
export async function startLatencyProxy(targetUri: string): Promise<LatencyProxy> {
  const parsed = /^mongodb:\/\/([^@/]*@)?([^/?]+)(.*)$/.exec(targetUri);
  if (!parsed) throw new Error(`latency proxy: cannot proxy ${targetUri} (needs mongodb://host:port/...)`);
  const [, credentials = '', hosts, rest] = parsed;
  const first = hosts.split(',')[0];
  const colon = first.lastIndexOf(':');
  const target = colon > 0 && !first.endsWith(']') ? { host: first.slice(0, colon), port: Number(first.slice(colon + 1)) } : { host: first, port: 27017 };
  target.host = target.host.replace(/^\[|\]$/g, '');

  let delayMs = 0;
  let swallow = false;
  const swallowQueue: RegExp[] = [];
  const unanswered: string[] = [];
  let held = 0;
  let onDrained: Array<() => void> = [];
  const release = () => {
    held -= 1;
    if (held > 0) return;
    for (const resolve of onDrained) resolve();
    onDrained = [];
  };
  const sockets = new Set<Socket>();
  const server: Server = createServer((client) => {
    const upstream = connect(target.port, target.host);
    sockets.add(client).add(upstream);
    client.setNoDelay(true);
    upstream.setNoDelay(true);
    // Replies leave in the order they came, each no earlier than its own delay.
    let tail = Promise.resolve();
    let lastRequest = '';
    // The driver sends one command at a time on a connection, so the next reply on it is this request's.
    let dropNextReply = false;
    upstream.on('data', (chunk) => {
      if (swallow || dropNextReply) {
        dropNextReply = false;
        unanswered.push(lastRequest);
        return;
      }
      const due = Date.now() + delayMs;
      held += 1;
      tail = tail.then(async () => {
        const wait = due - Date.now();
        if (wait > 0) await new Promise((resolve) => setTimeout(resolve, wait));
        if (!client.destroyed) client.write(chunk);
        release();
      });
    });
    client.on('data', (chunk) => {
      lastRequest = chunk.toString('latin1');
      if (swallowQueue[0]?.test(lastRequest)) {
        swallowQueue.shift();
        dropNextReply = true;
      }
      upstream.write(chunk);
    });
    const end = () => {
      client.destroy();
      upstream.destroy();
      sockets.delete(client);
      sockets.delete(upstream);
    };
    for (const s of [client, upstream]) {
      s.on('error', end);
      s.on('close', end);
    }
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => resolve());
  });
  const { port } = server.address() as AddressInfo;

  // directConnection: a replica set's hello would otherwise lead the driver to its members, around the proxy.
  const [path, query = ''] = rest.split('?');
  const params = new URLSearchParams(query);
  params.set('directConnection', 'true');
  return {
    uri: `mongodb://${credentials}127.0.0.1:${port}${path || '/'}?${params.toString()}`,
    setReplyDelay: (ms) => {
      delayMs = ms;
    },
    setSwallowReplies: (on) => {
      swallow = on;
    },
    swallowReplyTo: (request, times = 1) => {
      for (let i = 0; i < times; i++) swallowQueue.push(request);
    },
    pendingSwallows: (clear = false) => {
      const n = swallowQueue.length;
      if (clear) swallowQueue.length = 0;
      return n;
    },
    unanswered,
    drained: () => (held === 0 ? Promise.resolve() : new Promise<void>((resolve) => onDrained.push(resolve))),
    close: () =>
      new Promise<void>((resolve) => {
        for (const s of sockets) s.destroy();
        server.close(() => resolve());
      }),
  };
}
