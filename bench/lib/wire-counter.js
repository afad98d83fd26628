'use strict';
// A TCP proxy in front of the database that reads the MongoDB wire protocol: it counts each command
// (by name and collection) and the time until its reply. Used to count database round trips per dial.
const net = require('node:net');
const { BSON: { deserialize } } = require('mongodb');
const { round } = require('./util');

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

// A filter's shape: its top-level fields, each with the operators it uses (`next_execution:$lte`).
function shapeOf(filter) {
  if (!filter || typeof filter !== 'object') return '{}';
  const keys = Object.keys(filter).map((k) => {
    const v = filter[k];
    const ops = v && typeof v === 'object' && !Array.isArray(v) && !(v._bsontype) && !(v instanceof Date) ? Object.keys(v).filter((o) => o.startsWith('$')) : [];
    return ops.length ? `${k}:${ops.join('')}` : k;
  });
  return `{${keys.sort().join(',')}}`;
}

const FILTERED = /^(find|update|delete|aggregate|count|findAndModify) /;

// The command with the shape of its (first) filter: which query of a collection is the costly one.
function detailedCommandOf(buf, cmd) {
  if (!FILTERED.test(cmd) || buf.readInt32LE(12) !== OP_MSG) return cmd;
  try {
    let off = 20;
    let body = null;
    const sequences = {};
    while (off < buf.length - (buf.readInt32LE(16) & 1 ? 4 : 0)) {
      const kind = buf[off++];
      if (kind === 0) {
        const len = buf.readInt32LE(off);
        body = deserialize(buf.subarray(off, off + len));
        off += len;
      } else {
        const size = buf.readInt32LE(off);
        let end = off + 4;
        while (end < off + size && buf[end] !== 0) end++;
        const id = buf.toString('utf8', off + 4, end);
        const first = end + 1;
        if (first < off + size) sequences[id] = deserialize(buf.subarray(first, first + buf.readInt32LE(first)));
        off += size;
      }
    }
    if (!body) return cmd;
    const first = (list, id) => (Array.isArray(body[list]) ? body[list][0] : sequences[id]);
    if (body.find !== undefined) return `${cmd} ${shapeOf(body.filter)}${body.sort ? ' sorted' : ''}`;
    if (body.update !== undefined) {
      const u = first('updates', 'updates');
      return `${cmd} ${shapeOf(u?.q)}${u?.multi ? ' many' : ''}`;
    }
    if (body.delete !== undefined) return `${cmd} ${shapeOf(first('deletes', 'deletes')?.q)}`;
    if (body.findAndModify !== undefined || body.count !== undefined) return `${cmd} ${shapeOf(body.query)}`;
    if (body.aggregate !== undefined) return `${cmd} ${shapeOf(body.pipeline?.[0]?.$match)}`;
    return cmd;
  } catch {
    return cmd;
  }
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

// With `shapes`, commands are also counted by the shape of their filter (shapes()).
async function startWireCounter(targetHost, targetPort, { shapes = false } = {}) {
  const counts = new Map();
  const shapeCounts = new Map();
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
        const at = process.hrtime.bigint();
        inFlight.set(m.readInt32LE(4), { cmd, shape: shapes ? detailedCommandOf(m, cmd) : null, at });
      }),
    );
    upstream.on('data', (chunk) => client.write(chunk));
    upstream.on(
      'data',
      messages((m) => {
        const req = inFlight.get(m.readInt32LE(8));
        if (!req) return;
        inFlight.delete(m.readInt32LE(8));
        const ms = Number(process.hrtime.bigint() - req.at) / 1e6;
        for (const [map, key] of [[counts, req.cmd], [shapeCounts, req.shape]]) {
          if (key === null) continue;
          const entry = map.get(key) ?? { count: 0, ms: 0 };
          entry.count++;
          entry.ms += ms;
          map.set(key, entry);
        }
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
      shapeCounts.clear();
      enabled = true;
    },
    stop() {
      enabled = false;
      return [...counts.entries()].map(([cmd, v]) => ({ cmd, ...v })).sort((a, b) => b.count - a.count);
    },
    shapes: () => [...shapeCounts.entries()].map(([cmd, v]) => ({ cmd, ...v })).sort((a, b) => b.ms - a.ms),
    close: () => new Promise((r) => server.close(r)),
  };
}

// A counter's list (stop() or shapes()), its first k entries per dial: count and mean round trip.
function perDial(list, dials, k) {
  return list.slice(0, k).map((c) => ({ ...c, ms: round(c.ms, 0), per_dial: round(c.count / dials, 2), mean_ms: round(c.ms / c.count, 1) }));
}

module.exports = { startWireCounter, perDial };
