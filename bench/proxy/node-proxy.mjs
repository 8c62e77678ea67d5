#!/usr/bin/env node
/**
 * The floor for a Node TCP proxy: accept, dial the backend from a bound source address (as kpath
 * dials from the source twin), pipe both ways with half-close, reset on error. No model, no
 * conntrack, no metrics, no logging. The benchmark runs it next to kpath to separate what Node's
 * net/stream layer costs from what kpath adds on top.
 *
 *   node bench/proxy/node-proxy.mjs LISTEN_HOST:PORT=BACKEND_HOST:PORT ... [--source 127.240.0.12]
 *
 * Loopback only: every address must be in 127.0.0.0/8.
 */
import { connect, createServer } from 'node:net';

const args = process.argv.slice(2);
const si = args.indexOf('--source');
const source = si >= 0 ? args.splice(si, 2)[1] : '127.240.0.12';
const split = (hp) => {
  const i = hp.lastIndexOf(':');
  return { host: hp.slice(0, i), port: Number(hp.slice(i + 1)) };
};
let pending = args.length;
for (const a of args) {
  const [l, b] = a.split('=').map(split);
  for (const h of [l.host, b.host, source]) if (!h.startsWith('127.')) throw new Error(`${h}: loopback only`);
  const server = createServer({ allowHalfOpen: true, pauseOnConnect: true, noDelay: true }, (client) => {
    client.on('error', () => {});
    const up = connect({
      host: b.host,
      port: b.port,
      localAddress: source,
      allowHalfOpen: true,
      noDelay: true,
    });
    up.on('error', () => {
      if (!client.destroyed) client.resetAndDestroy();
    });
    client.on('error', () => {
      if (!up.destroyed) up.resetAndDestroy();
    });
    up.once('connect', () => {
      client.pipe(up);
      up.pipe(client);
    });
    const onClose = (other) => () => {
      if (!other.destroyed) {
        if (other.readableEnded) other.end();
        else other.destroy();
      }
    };
    client.once('close', onClose(up));
    up.once('close', onClose(client));
  });
  server.listen({ host: l.host, port: l.port, backlog: 511 }, () => {
    if (--pending === 0) console.log('node-proxy listening');
  });
}
