import type { ConntrackTable, NatRange } from '../../netmodel/conntrack/index.js';
import { translate } from '../../netmodel/conntrack/index.js';
import type { Packet } from '../../netmodel/packet.js';
import type { Rng } from '../../netmodel/rng.js';
import { SeededRng } from '../../netmodel/rng.js';

/** A Rng that replays given values (then zeros). */
export function fixedRng(...values: number[]): Rng {
  let i = 0;
  return { uint32: () => values[i++] ?? 0 };
}

export interface Flow {
  dnat?: NatRange;
  snat?: NatRange;
}

/** The first packet through a node: conntrack, DNAT at PREROUTING, SNAT at POSTROUTING, confirm. */
export function first(
  table: ConntrackTable,
  p: Packet,
  now: number,
  flow: Flow,
  rng: Rng = new SeededRng(1),
) {
  const r = table.process(p, now);
  if (r.kind !== 'tracked') throw new Error(`not tracked: ${r.kind}`);
  const ctx = { now, rng };
  if (flow.dnat) table.setupNat(r.entry, 'DST', flow.dnat, ctx);
  else table.nullBinding(r.entry, 'DST', ctx);
  if (flow.snat) table.setupNat(r.entry, 'SRC', flow.snat, ctx);
  else table.nullBinding(r.entry, 'SRC', ctx);
  const c = table.confirm(r.entry, now);
  return { entry: r.entry, confirm: c, out: translate(r.entry, 'ORIGINAL', p) };
}
