#!/usr/bin/env node
/**
 * The runtime's per-connection kernel work alone, without sockets: IptablesMode.decide + closed (the
 * six walks of a proxied TCP connection: SYN, SYN-ACK, ACK, FIN, FIN-ACK, ACK) on bench/proxy's
 * cluster (one node, a ClusterIP service with one endpoint), for iptables and ipvs modes.
 *
 *   npm run build && node bench/proxy-decide.mjs [--n 200000] [--modes iptables,ipvs] [--dist dist]
 *                                                [--services 1] [--rounds 5] [--ab] [--plans] [--vs DIR]
 *                                                [--pollute KB] [--clock-step-us 4000] [--warm 20000]
 *
 * --ab: a second proxy with the walker's flow cache off, rounds interleaved with the first (the
 * machine is shared, so compare within one run); --vs DIR: a second proxy from another build (say the
 * branch's base, `tsc -p tsconfig.build.json --outDir DIR`), rounds interleaved the same way;
 * --plans: the cache's (table, chain) plans; --pollute KB: before each connection touch KB of a buffer
 * (one byte per 64-byte line), so that the walks find the CPU caches as cold as in the real proxy,
 * where the kernel's socket work runs between two connections; the figures are then net of a round
 * that only touches the buffer.
 *
 * Clients are node processes (as wrk on 127.0.0.1 is) from the node's address, with a new source port
 * per connection (wrk's ephemeral range 32768-60999); the clock moves 4 ms per connection, so about
 * 30,000 TIME_WAIT entries (120 s) stay in the table as in the real bench and the conntrack gc runs every 2 s of clock as the runtime's housekeeping does.
 * Prints CPU us per connection (process.cpuUsage, user + system; median over rounds).
 *
 * --clock-step-us 110: the clock as the real proxy's moves at ~9,000 connections a second. The client
 * ports then come back every ~3 s, so the next SYN on a port removes its old entries (TIME_WAIT) long
 * before their timers are due, as in `kpath up` under wrk; pass --warm 700000 to run past the first
 * 60 s of clock (IPVS's SYN_RECV timers come due) before measuring. The walks run in one process:
 * builds compared with --vs share its heap (run each build alone to compare garbage collection).
 */
import { resolve } from 'node:path';
import { cliOptions, REPO } from './lib.mjs';
import { loadModeModules, modeHarness } from './proxy/cluster-head.mjs';

const { opt, flag } = cliOptions();
const dist = resolve(opt('dist', `${REPO}/dist`));
const N = Number(opt('n', 100_000));
const rounds = Number(opt('rounds', 5));
const services = Number(opt('services', 1));
const modes = opt('modes', 'iptables,ipvs').split(',');
const ab = flag('ab');
const plans = flag('plans');
const vs = opt('vs', '');
const polluteKB = Number(opt('pollute', 0));
const clockStepUs = Number(opt('clock-step-us', 4000));
const warm = Number(opt('warm', 20_000));
const junk = new Uint8Array(polluteKB * 1024);
/** Touch every cache line of `junk` (a no-op without --pollute). */
const pollute = () => {
  for (let i = 0; i < junk.length; i += 64) junk[i]++;
};

const builds = [await loadModeModules(dist)];
if (vs) builds.push(await loadModeModules(resolve(vs)));

const median = (xs) => [...xs].sort((a, b) => a - b)[xs.length >> 1];

/** One emulated proxy in `mode`: `one(i)` decides and closes connection i (after --pollute's touch). */
function harness(mode, cache, build) {
  const h = modeHarness(build, mode, { services, clockStepUs });
  h.fc = h.m.dp.node('node-a').flowCache;
  if (h.fc) h.fc.enabled = cache;
  h.times = [];
  if (polluteKB) {
    const one = h.one;
    h.one = (i) => {
      pollute();
      one(i);
    };
  }
  return h;
}

// The flow cache on and off (or two builds), rounds interleaved in one process (the machine is shared:
// compare within a run).
const variants = ab
  ? [
      { cache: true, build: builds[0], label: '' },
      { cache: false, build: builds[0], label: ' (flow cache off)' },
    ]
  : builds.map((b, k) => ({ cache: true, build: b, label: k ? ` (${b.dir})` : '' }));
/** --pollute: CPU us per connection of touching the buffer alone, measured in each round, to subtract. */
const polluteAlone = () => {
  if (!polluteKB) return 0;
  const c0 = process.cpuUsage();
  for (let i = 0; i < N; i++) pollute();
  const c = process.cpuUsage(c0);
  return (c.user + c.system) / N;
};
for (const mode of modes) {
  const hs = variants.map((v) => harness(mode, v.cache, v.build));
  for (const h of hs) for (let i = 0; i < warm; i++) h.one(i); // warm up
  const alone = [];
  for (let r = 0; r < rounds; r++) {
    const polluteUs = polluteAlone();
    alone.push(polluteUs);
    for (const h of hs) {
      h.forwarded = 0;
      // CPU time of this process (user + system), less disturbed by the other work on a shared machine.
      const c0 = process.cpuUsage();
      for (let i = 0; i < N; i++) h.one(i);
      const c = process.cpuUsage(c0);
      h.times.push((c.user + c.system) / N - polluteUs);
      if (h.forwarded !== N) console.log(`${mode}: only ${h.forwarded}/${N} forwarded`);
    }
  }
  if (polluteKB)
    console.log(
      `${mode}: touching ${polluteKB} KB alone ${median(alone).toFixed(2)} CPU us/connection (subtracted per round)`,
    );
  hs.forEach((h, k) => {
    console.log(
      `${mode}${variants[k].label}: ${median(h.times).toFixed(2)} CPU us/connection (rounds ${h.times.map((t) => t.toFixed(2)).join(' / ')})` +
        (variants[k].cache && h.fc ? `; flow cache ${h.fc.hits} hits, ${h.fc.misses} misses` : ''),
    );
    if (variants[k].cache && plans) console.log(h.fc?.describe());
  });
}
