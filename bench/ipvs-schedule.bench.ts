/**
 * IPVS scheduling decisions per second on a kube-proxy-sized table: 10,000 virtual services with 5
 * real servers each, for the mh and rr schedulers.
 *
 *   npx vitest bench --run bench/ipvs-schedule.bench.ts
 *
 * Cases:
 *   (a) scheduler   the scheduler alone (ip_vs_schedule's sched->schedule): service lookup by
 *                   (protocol, VIP, port), then the pick, for SYNs spread uniformly over all services
 *                   from random clients
 *   (b) ipvsIn      a whole new connection through the emulated kernel: service lookup, the pick, a
 *                   connection entry (with its timer), counters, the state change and the DNATed packet,
 *                   without the explanation's sentences (as the real-traffic path calls it).
 *                   Time advances 1 ms per packet, so entries expire (SYN_RECV, 60 s) and the table
 *                   stays at about 60,000 connections x the packet rate.
 *
 * Each iteration handles BATCH packets; the summary at the end gives decisions/s (median over
 * iterations).
 */
import { afterAll, bench, describe } from 'vitest';
import { parseIP } from '../netmodel/addr.js';
import { type IpvsSchedulerName, type IpvsServiceSpec, IpvsTable, ipvsIn } from '../netmodel/ipvs/index.js';
import type { Packet } from '../netmodel/packet.js';
import { packet } from '../netmodel/packet.js';
import { intBelow, SeededRng } from '../netmodel/rng.js';

const SERVICES = 10_000;
const ENDPOINTS = 5;
const BATCH = 1000;
const PACKETS = 8192;

function specs(scheduler: IpvsSchedulerName): IpvsServiceSpec[] {
  return Array.from({ length: SERVICES }, (_, i) => ({
    protocol: 'TCP' as const,
    vip: parseIP(`10.96.${i >> 8}.${i & 255}`),
    port: 80,
    scheduler,
    flags: [],
    destinations: Array.from({ length: ENDPOINTS }, (_, e) => ({
      ip: parseIP(`10.244.${((i * ENDPOINTS + e) >> 8) & 255}.${(i * ENDPOINTS + e) & 255}`),
      port: 8080,
      weight: 1,
      forward: 'Masq' as const,
    })),
  }));
}

const rng = new SeededRng(11);
const packets: Packet[] = Array.from({ length: PACKETS }, (_, i) => {
  const s = intBelow(rng, SERVICES);
  return packet({
    proto: 'tcp',
    src: parseIP(`10.${intBelow(rng, 256)}.${intBelow(rng, 256)}.${1 + intBelow(rng, 254)}`),
    sport: 32768 + (i % 28000),
    dst: parseIP(`10.96.${s >> 8}.${s & 255}`),
    dport: 80,
  });
});

function table(s: IpvsSchedulerName): IpvsTable {
  const t = new IpvsTable();
  const t0 = performance.now();
  t.sync(specs(s));
  // mh builds each service's 4093-slot table at its first lookup: do that now, inside the build time.
  for (const svc of t.services.values()) svc.sched.schedule(svc, packets[0]!, 0);
  const ms = performance.now() - t0;
  builds.push(
    `  build ${s}: ${SERVICES} services x ${ENDPOINTS} (sync + first lookup) in ${ms.toFixed(0)} ms`,
  );
  return t;
}
const builds: string[] = [];
const tables = { mh: table('mh'), rr: table('rr') };

const rates = new Map<string, number[]>();
let n = 0;
let clock = 0;
let port = 0;

function schedOnly(name: string, t: IpvsTable): () => void {
  const list: number[] = [];
  rates.set(name, list);
  return () => {
    const t0 = performance.now();
    for (let i = 0; i < BATCH; i++) {
      const p = packets[n++ & (PACKETS - 1)]!;
      const svc = t.findService('TCP', p.dst, p.dport)!;
      if (!svc.sched.schedule(svc, p, 0).dest) throw new Error('no destination');
    }
    const dt = performance.now() - t0;
    if (dt > 0) list.push((BATCH * 1000) / dt);
  };
}

function fullIn(name: string, t: IpvsTable): () => void {
  const list: number[] = [];
  rates.set(name, list);
  return () => {
    const t0 = performance.now();
    for (let i = 0; i < BATCH; i++) {
      const base = packets[n++ & (PACKETS - 1)]!;
      // a fresh client port each time, so every packet is a new connection
      const p = { ...base, sport: 1024 + (port++ % 64000) };
      const r = ipvsIn(t, p, clock++, { explain: false });
      if (r.kind !== 'scheduled' && r.kind !== 'existing') throw new Error(`not scheduled: ${r.kind}`);
    }
    const dt = performance.now() - t0;
    if (dt > 0) list.push((BATCH * 1000) / dt);
  };
}

function median(xs: readonly number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s.length === 0
    ? 0
    : s.length % 2
      ? s[(s.length - 1) / 2]!
      : (s[s.length / 2 - 1]! + s[s.length / 2]!) / 2;
}

const opts = (name: string) => ({
  time: 3000,
  setup: (_task: unknown, mode: 'run' | 'warmup') => {
    if (mode === 'run') rates.get(name)!.length = 0;
  },
});

const cases: [string, () => void][] = [
  ['(a) scheduler, mh', schedOnly('(a) scheduler, mh', tables.mh)],
  ['(a) scheduler, rr', schedOnly('(a) scheduler, rr', tables.rr)],
  ['(b) ipvsIn new connection, mh', fullIn('(b) ipvsIn new connection, mh', tables.mh)],
  ['(b) ipvsIn new connection, rr', fullIn('(b) ipvsIn new connection, rr', tables.rr)],
];

describe(`IPVS scheduling, ${SERVICES} services x ${ENDPOINTS} real servers (x${BATCH} packets/iteration)`, () => {
  for (const [name, fn] of cases) bench(name, fn, opts(name));
});

afterAll(() => {
  const lines = [...rates].map(([name, xs]) => {
    const pps = median(xs);
    return `  ${name.padEnd(34)} ${Math.round(pps).toLocaleString('en-US').padStart(11)} decisions/s  (${(1e6 / pps).toFixed(2)} µs each, ${xs.length} iterations)`;
  });
  console.log(['', ...builds, 'decisions/s, median over iterations:', ...lines, ''].join('\n'));
});
