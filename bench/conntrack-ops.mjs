#!/usr/bin/env node
/**
 * The conntrack table alone, as a proxied TCP connection uses it: per connection the six packets'
 * process() calls (SYN and its confirm, SYN-ACK, ACK, FIN, FIN-ACK, ACK), from a client whose ports
 * run through wrk's ephemeral range 32768-60999, the clock moving 4 ms per connection (~30,000
 * entries in TIME_WAIT, client ports coming back while their old entry is still in TIME_WAIT) and
 * gc every 2 s of clock, as the runtime's housekeeping runs it. No rules, no NAT: what the table
 * itself costs (lookups, state machine, timers, insert, kill, gc).
 *
 *   npm run build && node bench/conntrack-ops.mjs [--n 50000] [--rounds 7] [--dist dist] [--vs DIR]
 *                                                  [--pollute KB]
 *
 * --vs DIR: the same with another build (rounds interleaved); --pollute KB: touch KB of a buffer
 * before each connection (caches as cold as in the real proxy), its own cost subtracted.
 * Prints CPU us per connection (process.cpuUsage, user + system; median over rounds).
 */
import { resolve } from 'node:path';
import { cliOptions, REPO } from './lib.mjs';

const { opt } = cliOptions();
const dist = resolve(opt('dist', `${REPO}/dist`));
const N = Number(opt('n', 50_000));
const rounds = Number(opt('rounds', 7));
const vs = opt('vs', '');
const polluteKB = Number(opt('pollute', 0));
const junk = new Uint8Array(polluteKB * 1024);
const pollute = () => {
  for (let i = 0; i < junk.length; i += 64) junk[i]++;
};

async function load(dir) {
  return {
    dir,
    ...(await import(`${dir}/netmodel/conntrack/index.js`)),
    ...(await import(`${dir}/netmodel/packet.js`)),
    ...(await import(`${dir}/netmodel/addr.js`)),
  };
}

function harness(b) {
  const { ConntrackTable, packet, parseIP, SYN, SYN_ACK, ACK, FIN_ACK } = b;
  const t = new ConntrackTable();
  const client = parseIP('10.240.0.11');
  const server = parseIP('10.244.1.10');
  let now = 1_764_900_000_000;
  let lastGc = now;
  let port = 32768;
  const pk = (src, dst, sport, dport, tcp) => packet({ proto: 'tcp', src, dst, sport, dport, tcp });
  const h = { b, times: [], table: t };
  h.one = () => {
    port = port >= 60999 ? 32768 : port + 1;
    const r = t.process(pk(client, server, port, 8080, SYN), now);
    if (r.kind === 'tracked' && r.created) t.confirm(r.entry, now);
    t.process(pk(server, client, 8080, port, SYN_ACK), now);
    t.process(pk(client, server, port, 8080, ACK), now);
    t.process(pk(client, server, port, 8080, FIN_ACK), now);
    t.process(pk(server, client, 8080, port, FIN_ACK), now);
    t.process(pk(client, server, port, 8080, ACK), now);
    now += 4;
    if (now - lastGc >= 2000) {
      t.gc(now);
      lastGc = now;
    }
  };
  return h;
}

const builds = [await load(dist)];
if (vs) builds.push(await load(resolve(vs)));
const hs = builds.map(harness);
const median = (xs) => [...xs].sort((a, b) => a - b)[xs.length >> 1];
for (const h of hs) for (let i = 0; i < 40_000; i++) h.one(); // warm up: the table at its steady size
const alone = [];
for (let r = 0; r < rounds; r++) {
  let polluteUs = 0;
  if (polluteKB) {
    const c0 = process.cpuUsage();
    for (let i = 0; i < N; i++) pollute();
    const c = process.cpuUsage(c0);
    polluteUs = (c.user + c.system) / N;
    alone.push(polluteUs);
  }
  for (const h of hs) {
    const c0 = process.cpuUsage();
    if (polluteKB)
      for (let i = 0; i < N; i++) {
        pollute();
        h.one();
      }
    else for (let i = 0; i < N; i++) h.one();
    const c = process.cpuUsage(c0);
    h.times.push((c.user + c.system) / N - polluteUs);
  }
}
if (polluteKB) console.log(`touching ${polluteKB} KB alone: ${median(alone).toFixed(2)} CPU us/connection`);
for (const h of hs) {
  console.log(
    `${h.b.dir}: ${median(h.times).toFixed(2)} CPU us/connection (rounds ${h.times.map((x) => x.toFixed(2)).join(' / ')}); table ${h.table.size} entries, stats ${JSON.stringify(h.table.statistics())}`,
  );
}
