/**
 * First-packet classification on a kube-proxy-shaped nat table: nat PREROUTING for the first packet
 * (TCP SYN or UDP) of a flow to a ClusterIP service port.
 *
 *   npx vitest bench --run bench/netfilter-classify.bench.ts
 *
 * The table is written as kube-proxy (iptables mode) writes it: 10,000 services, one port each,
 * 2-5 endpoints each; KUBE-SERVICES with one rule per service port, KUBE-SVC-* with the off-cluster
 * KUBE-MARK-MASQ rule and statistic rules, KUBE-SEP-* with the hairpin KUBE-MARK-MASQ and the DNAT
 * (test/netfilter/kube-shaped.ts, kubeProxyNat). Sources: 3 of 4 packets from pods, 1 of 4 from
 * outside the cluster CIDR (masqueraded).
 *
 * Cases, side by side:
 *   (a) indexed, uniform   traffic spread evenly over all 10,000 services (the whole table is cold)
 *   (b) indexed, 64 hot    traffic to 64 services
 *   (c) linear, uniform    ctx.index = false: the plain reference evaluation, rule by rule
 *
 * Each iteration classifies BATCH packets (LINEAR_BATCH for (c)); vitest's hz is iterations/s. The
 * summary printed at the end gives packets/s per case: the median over iterations of
 * packets / iteration time.
 */
import { afterAll, bench, describe } from 'vitest';
import { parseIP } from '../netmodel/addr.js';
import type { EvalContext, EvalResult } from '../netmodel/netfilter/index.js';
import {
  emptyRuleset,
  evaluate,
  IpSetStore,
  loadRestore,
  NetfilterState,
  NfAcct,
  RecentTables,
} from '../netmodel/netfilter/index.js';
import type { Packet } from '../netmodel/packet.js';
import { packet } from '../netmodel/packet.js';
import { intBelow, SeededRng, shuffled } from '../netmodel/rng.js';
import { kubeProxyNat } from '../test/netfilter/kube-shaped.js';

const SERVICES = 10_000;
const BATCH = 1000;
const LINEAR_BATCH = 10;
const PACKETS = 8192; // distinct packets per traffic mix, cycled

const { text, services } = kubeProxyNat({ services: SERVICES, minEndpoints: 2, maxEndpoints: 5, seed: 7 });
const rs = loadRestore(emptyRuleset(4), text);

function makePackets(hot: number, seed: number): Packet[] {
  const rng = new SeededRng(seed);
  const targets = shuffled(rng, services).slice(0, hot);
  return Array.from({ length: PACKETS }, (_, i) => {
    const s = targets[intBelow(rng, targets.length)]!;
    const fromPod = intBelow(rng, 4) !== 0;
    const src = fromPod
      ? `10.244.${intBelow(rng, 256)}.${1 + intBelow(rng, 254)}`
      : `10.0.${intBelow(rng, 256)}.${1 + intBelow(rng, 254)}`;
    return packet({
      proto: s.proto,
      src: parseIP(src),
      dst: parseIP(s.ip),
      sport: 32768 + (i % 28000),
      dport: s.port,
    });
  });
}
const uniform = makePackets(SERVICES, 1);
const hot64 = makePackets(64, 2);

const ctxFor = (index: boolean): EvalContext => ({
  now: 0,
  rng: new SeededRng(1),
  state: new NetfilterState(new RecentTables(), new IpSetStore(), new NfAcct()),
  ct: { state: 'NEW' },
  index,
});

// Honesty check before timing: indexed and linear agree on every result (fresh tables, same seed).
{
  const a = loadRestore(emptyRuleset(4), text);
  const b = loadRestore(emptyRuleset(4), text);
  const ca = ctxFor(true);
  const cb = ctxFor(false);
  const same = (x: EvalResult, y: EvalResult) =>
    x.verdict.kind === y.verdict.kind &&
    x.packet.mark === y.packet.mark &&
    JSON.stringify(x.nat) === JSON.stringify(y.nat);
  for (let i = 0; i < 500; i++) {
    const p = uniform[i]!;
    const x = evaluate(a, 'nat', 'PREROUTING', p, ca);
    const y = evaluate(b, 'nat', 'PREROUTING', p, cb);
    if (!same(x, y) || x.nat?.kind !== 'DNAT') throw new Error(`indexed and linear differ on packet ${i}`);
  }
}

const rates = new Map<string, number[]>();
let n = 0;
function timed(name: string, ctx: EvalContext, size: number, packets: Packet[]): () => void {
  const list: number[] = [];
  rates.set(name, list);
  return () => {
    const t0 = performance.now();
    for (let i = 0; i < size; i++) {
      const r = evaluate(rs, 'nat', 'PREROUTING', packets[n++ & (PACKETS - 1)]!, ctx);
      if (r.nat === undefined) throw new Error('expected a DNAT');
    }
    const dt = performance.now() - t0;
    if (dt > 0) list.push((size * 1000) / dt);
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

const A = '(a) indexed, uniform over 10,000 services';
const B = '(b) indexed, 64 hot services';
const C = '(c) linear, uniform over 10,000 services';

/** Only iterations of the measured phase count (the list is cleared after warm-up). */
const opts = (name: string) => ({
  time: 3000,
  setup: (_task: unknown, mode: 'run' | 'warmup') => {
    if (mode === 'run') rates.get(name)!.length = 0;
  },
});

describe(`nat PREROUTING, ${SERVICES} services, 2-5 endpoints (x${BATCH} packets/iteration; linear x${LINEAR_BATCH})`, () => {
  bench(A, timed(A, ctxFor(true), BATCH, uniform), opts(A));
  bench(B, timed(B, ctxFor(true), BATCH, hot64), opts(B));
  bench(C, timed(C, ctxFor(false), LINEAR_BATCH, uniform), opts(C));
});

// In a describe block vitest's bench runner does not call afterAll; at the top level it does.
afterAll(() => {
  const lines = [...rates].map(([name, xs]) => {
    const pps = median(xs);
    return `  ${name.padEnd(44)} ${Math.round(pps).toLocaleString('en-US').padStart(11)} packets/s  (${(1e6 / pps).toFixed(2)} µs/packet, ${xs.length} iterations)`;
  });
  console.log(['', 'packets/s, median over iterations:', ...lines, ''].join('\n'));
});
