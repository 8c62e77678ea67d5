/**
 * First-packet classification on a kube-proxy-shaped nat table (10,000 services, 2 endpoints each):
 * nat PREROUTING for a SYN to a random ClusterIP, indexed vs linear.
 *
 *   npx vitest bench --run bench/netfilter-classify.bench.ts
 *
 * Each iteration classifies BATCH packets; packets/s = BATCH * hz.
 */
import { bench, describe } from 'vitest';
import { parseIP } from '../netmodel/addr.js';
import type { EvalContext } from '../netmodel/netfilter/index.js';
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
import { SeededRng } from '../netmodel/rng.js';
import { kubeNatRules } from '../test/netfilter/kube-shaped.js';

const SERVICES = 10_000;
const BATCH = 1000;
const rs = loadRestore(emptyRuleset(4), kubeNatRules(SERVICES, 2));
const pick = new SeededRng(99);
/** `hot` services receive the traffic (SERVICES = uniform over every service). */
const makePackets = (hot: number): Packet[] =>
  Array.from({ length: 4096 }, (_, i) => {
    const s = ((pick.uint32() % hot) * 7919) % SERVICES;
    return packet({
      proto: 'tcp',
      src: parseIP(`10.1.${(i >> 8) & 255}.${i & 255}`),
      dst: parseIP(`10.96.${(s >> 8) & 255}.${s & 255}`),
      sport: 30000 + (i % 30000),
      dport: 80,
    });
  });
const uniform = makePackets(SERVICES);
const hot64 = makePackets(64);
const state = new NetfilterState(new RecentTables(), new IpSetStore(), new NfAcct());
const ctxIndexed: EvalContext = { now: 0, rng: new SeededRng(1), state, ct: { state: 'NEW' }, index: true };
const ctxLinear: EvalContext = { now: 0, rng: new SeededRng(1), state, ct: { state: 'NEW' }, index: false };

let n = 0;
function batch(ctx: EvalContext, size: number, packets: Packet[] = uniform): void {
  for (let i = 0; i < size; i++) {
    const r = evaluate(rs, 'nat', 'PREROUTING', packets[n++ & 4095]!, ctx);
    if (r.nat === undefined) throw new Error('expected a DNAT');
  }
}

describe(`nat PREROUTING, ${SERVICES} services (x${BATCH} packets per iteration)`, () => {
  bench('indexed, uniform over all services', () => batch(ctxIndexed, BATCH), { time: 2000 });
  bench('indexed, 64 hot services', () => batch(ctxIndexed, BATCH, hot64), { time: 2000 });
  // 1000/100 of the work per iteration: multiply hz by 100 to compare with the lines above.
  bench('linear (x10 packets per iteration), uniform', () => batch(ctxLinear, 10), { time: 2000 });
});
