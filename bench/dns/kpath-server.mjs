#!/usr/bin/env node
/**
 * Single-process kpath DNS server for the benchmark:
 *   node kpath-server.mjs <distDir> <manifests.yaml> <host> <port>
 * Builds the cluster snapshot from the manifests (the real YAML pipeline), derives the DNS view and
 * serves it on <host>:<port> (UDP and TCP) with startDnsServer. Prints "READY <port>" on stdout once
 * listening; exits on SIGTERM/SIGINT (so `node --cpu-prof` writes its profile).
 */
import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { pathToFileURL } from 'node:url';

const [distDir, manifestPath, host, portText] = process.argv.slice(2);
if (!distDir || !manifestPath || !host || !portText) {
  console.error('usage: kpath-server.mjs <distDir> <manifests.yaml> <host> <port>');
  process.exit(2);
}
if (!host.startsWith('127.')) {
  console.error(`refusing to listen on ${host}: loopback (127.0.0.0/8) only`);
  process.exit(2);
}
const load = (p) => import(pathToFileURL(resolve(distDir, p)).href);
const { buildCluster } = await load('netmodel/cluster/index.js');
const { dnsViewOf, zoneOptionsOf } = await load('netmodel/dns/from-snapshot.js');
const { startDnsServer } = await load('proxy/dns/server.js');
const { default: pino } = await import('pino');

const built = buildCluster([{ file: manifestPath, text: readFileSync(manifestPath, 'utf8') }]);
if (!built.ok) {
  console.error(built.diagnostics.map((d) => d.message).join('\n'));
  process.exit(1);
}
const snap = built.snapshot;
const server = await startDnsServer({
  listen: [{ host, port: Number(portText) }],
  view: dnsViewOf(snap),
  zoneOptions: zoneOptionsOf(snap),
  logger: pino({ level: 'warn' }),
});
process.stdout.write(
  `READY ${server.addresses[0].port} services=${snap.services.length} udp=${server.udpKind}\n`,
);

let closing = false;
const stop = async () => {
  if (closing) return;
  closing = true;
  process.stderr.write(`kpath stats ${JSON.stringify(server.stats)}\n`);
  await server.close();
  process.exit(0);
};
process.on('SIGTERM', stop);
process.on('SIGINT', stop);
