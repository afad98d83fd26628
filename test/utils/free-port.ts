import { createServer as createNetServer } from 'node:net';

// Ports handed out in this run. A port is free when asked for, but its process binds it only later (and
// binds it again after each restart): the OS may give the same port to the next caller meanwhile, and two
// lanes did get one port (crash-a and races-b on 33297, 2026-12-07): each instance's restarts failed with
// EADDRINUSE while the balancer sent one cluster's requests to the other's instance.
const handedOut = new Set<number>();

export async function freePort(): Promise<number> {
  for (;;) {
    const port = await new Promise<number>((resolve, reject) => {
      const server = createNetServer();
      server.on('error', reject);
      server.listen(0, '127.0.0.1', () => {
        const address = server.address();
        const found = typeof address === 'object' && address ? address.port : 0;
        server.close(() => resolve(found));
      });
    });
    if (handedOut.has(port)) continue;
    handedOut.add(port);
    return port;
  }
}
