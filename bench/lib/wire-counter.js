'use strict';
// A TCP proxy in front of the database that reads the MongoDB wire protocol: it counts each command
// (by name and collection) and the time until its reply. Used to count database round trips per dial.
const net = require('node:net');

const OP_MSG = 2013;

// The first element of an OP_MSG body section is the command: its name, and the collection if a string.
function commandOf(buf) {
  if (buf.readInt32LE(12) !== OP_MSG) return 'other';
  let off = 20; // header (16) + flagBits (4)
  while (off < buf.length) {
    const kind = buf[off++];
    if (kind === 0) {
      const type = buf[off + 4];
      let end = off + 5;
      while (end < buf.length && buf[end] !== 0) end++;
      const name = buf.toString('utf8', off + 5, end);
      if (type === 0x02) {
        const len = buf.readInt32LE(end + 1);
        return `${name} ${buf.toString('utf8', end + 5, end + 5 + len - 1)}`;
      }
      return name;
    }
    off += buf.readInt32LE(off); // kind 1: document sequence
  }
  return 'other';
}

// Splits a stream into whole wire messages.
function messages(onMessage) {
  let pending = Buffer.alloc(0);
  return (chunk) => {
    pending = pending.length ? Buffer.concat([pending, chunk]) : chunk;
    while (pending.length >= 4) {
      const len = pending.readInt32LE(0);
      if (pending.length < len) break;
      onMessage(pending.subarray(0, len));
      pending = pending.subarray(len);
    }
  };
}

async function startWireCounter(targetHost, targetPort) {
  const counts = new Map();
  const inFlight = new Map();
  let enabled = false;
  const server = net.createServer((client) => {
    const upstream = net.connect(targetPort, targetHost);
    client.on('data', (chunk) => {
      upstream.write(chunk);
    });
    client.on(
      'data',
      messages((m) => {
        if (!enabled) return;
        const cmd = commandOf(m);
        if (cmd.startsWith('hello') || cmd.startsWith('isMaster') || cmd.startsWith('ismaster') || cmd.startsWith('ping')) return;
        inFlight.set(m.readInt32LE(4), { cmd, at: process.hrtime.bigint() });
      }),
    );
    upstream.on('data', (chunk) => client.write(chunk));
    upstream.on(
      'data',
      messages((m) => {
        const req = inFlight.get(m.readInt32LE(8));
        if (!req) return;
        inFlight.delete(m.readInt32LE(8));
        const entry = counts.get(req.cmd) ?? { count: 0, ms: 0 };
        entry.count++;
        entry.ms += Number(process.hrtime.bigint() - req.at) / 1e6;
        counts.set(req.cmd, entry);
      }),
    );
    const close = () => {
      client.destroy();
      upstream.destroy();
    };
    client.on('error', close);
    upstream.on('error', close);
    client.on('close', close);
    upstream.on('close', close);
  });
  await new Promise((r) => server.listen(0, '127.0.0.1', r));
  return {
    port: server.address().port,
    start() {
      counts.clear();
      enabled = true;
    },
    stop() {
      enabled = false;
      return [...counts.entries()].map(([cmd, v]) => ({ cmd, ...v })).sort((a, b) => b.count - a.count);
    },
    close: () => new Promise((r) => server.close(r)),
  };
}

module.exports = { startWireCounter };
