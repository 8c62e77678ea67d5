#!/usr/bin/env node
/**
 * Opens idle TCP connections to HOST:PORT and holds them until SIGTERM or stdin closes.
 *
 *   node bench/proxy/idle-client.mjs HOST PORT [SOURCES=100] [SOURCE_PREFIX=127.66]
 *
 * Each stdin line `open N` brings the number of open connections up to N and answers with one line
 * `ready OPEN FAILED` (totals so far).
 *
 * Source addresses are SOURCE_PREFIX.x.y (loopback twins that are no pod and no node, so to kpath
 * they are clients outside the cluster), N/SOURCES connections each, ephemeral ports. Connections
 * are opened 256 at a time so the listener's accept backlog never overflows. Needs a file descriptor limit above N (run it under prlimit).
 * Loopback only: HOST and every source must be in 127.0.0.0/8.
 */
import { connect } from 'node:net';

const [host, portText, srcText = '100', prefix = '127.66'] = process.argv.slice(2);
const port = Number(portText);
const sources = Number(srcText);
if (!host?.startsWith('127.') || !prefix.startsWith('127.')) throw new Error('loopback only');

const socks = [];
let failed = 0;
const source = (i) => {
  const k = (i % sources) + 1;
  return `${prefix}.${k >> 8}.${k & 255}`;
};

function one(i) {
  return new Promise((resolve) => {
    const s = connect({ host, port, localAddress: source(i) });
    s.setTimeout(15_000);
    s.once('connect', () => {
      s.setTimeout(0);
      socks.push(s);
      resolve();
    });
    s.on('timeout', () => s.destroy(new Error('timeout')));
    s.once('error', () => {
      failed++;
      resolve();
    });
  });
}

let next = 0;
async function openUpTo(n) {
  while (next < n) {
    const batch = [];
    for (const end = Math.min(n, next + 256); next < end; next++) batch.push(one(next));
    await Promise.all(batch);
  }
  process.stdout.write(`ready ${socks.length} ${failed}\n`);
}

let buf = '';
let queue = Promise.resolve();
process.stdin.on('data', (d) => {
  buf += d;
  let i = buf.indexOf('\n');
  while (i >= 0) {
    const m = /^open (\d+)/.exec(buf.slice(0, i));
    buf = buf.slice(i + 1);
    if (m) queue = queue.then(() => openUpTo(Number(m[1])));
    i = buf.indexOf('\n');
  }
});

const bye = () => {
  for (const s of socks) s.destroy();
  process.exit(0);
};
process.on('SIGTERM', bye);
process.stdin.on('end', bye);
