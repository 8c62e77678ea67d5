/**
 * The table's expiry timers (netmodel/conntrack/expiry.ts) against a full scan. Two tables take the
 * same random traffic (TCP connections through every state, RSTs, UDP flows that turn into streams,
 * ICMP echoes, a small nf_conntrack_max so that early_drop runs) on the same clock, which moves by
 * small steps, large jumps and sometimes backwards. One expires with gc(); the other with a full
 * scan: `delete` with a filter nothing matches kills every expired entry it walks past. After every
 * step both must hold exactly the same entries (ids, expiry times, states, status bits, expired
 * ones still in the table included), the same size and the same statistics, and gc() must return
 * how many the scan removed. A timer that fires late (a missed restart, a lost re-arm) leaves an
 * entry in one table only; one that fires early kills an entry the scan keeps.
 */
import { describe, expect, it } from 'vitest';
import type { ConntrackEntryView } from '../../netmodel/conntrack/index.js';
import { ConntrackTable } from '../../netmodel/conntrack/index.js';
import type { Packet, TcpFlags } from '../../netmodel/packet.js';
import { ACK, FIN_ACK, RST, SYN, SYN_ACK } from '../../netmodel/packet.js';
import { intBelow, SeededRng } from '../../netmodel/rng.js';
import { icmp, reverse, S, tcp, udp } from './builders.js';

/** No flow in these tests is SCTP: a `conntrack -D` that deletes nothing but expired entries. */
const NOTHING = { proto: 'sctp' } as const;

function snapshot(t: ConntrackTable): string[] {
  // Every entry in confirm order, expired ones still in the table too.
  return t
    .entries(Number.NEGATIVE_INFINITY)
    .map(
      (e: ConntrackEntryView) =>
        `${e.id} ${e.expiresAt} ${e.tcpState ?? '-'} ${e.status} ${e.original.sport}>${e.original.dport}`,
    );
}

function slotsOf(t: ConntrackTable): number {
  return (t as unknown as { expiry: { slots: number } }).expiry.slots;
}

interface Flow {
  readonly first: Packet;
  step: number;
}

function run(seed: number, steps: number, backwards: boolean): { gcRemoved: number; maxSlots: number } {
  const rng = new SeededRng(seed);
  const sysctls = { nf_conntrack_max: 600 };
  const a = new ConntrackTable({ sysctls });
  const b = new ConntrackTable({ sysctls });
  let now = 1_764_900_000_000;
  const flows: Flow[] = [];
  let gcRemoved = 0;
  let maxSlots = 0;
  const both = (p: Packet) => {
    const ra = a.process(p, now);
    const rb = b.process(p, now);
    expect(ra.kind).toBe(rb.kind);
    if (ra.kind === 'tracked' && rb.kind === 'tracked' && ra.created) {
      expect(a.confirm(ra.entry, now).kind).toBe(b.confirm(rb.entry, now).kind);
    }
  };
  const TCP_SCRIPT: readonly (readonly [boolean, TcpFlags])[] = [
    [false, SYN_ACK],
    [true, ACK],
    [true, ACK], // data: the same ESTABLISHED timeout again
    [false, ACK],
    [true, FIN_ACK],
    [false, FIN_ACK],
    [true, ACK],
  ];
  for (let i = 0; i < steps; i++) {
    const k = intBelow(rng, 20);
    if (k < 5 || flows.length === 0) {
      const c = `10.244.${intBelow(rng, 3)}.${1 + intBelow(rng, 50)}:${1024 + intBelow(rng, 400)}`;
      const kind = intBelow(rng, 3);
      const p =
        kind === 0
          ? tcp(c, '10.96.0.20:80', SYN)
          : kind === 1
            ? udp(c, '10.96.0.10:53')
            : icmp(c.split(':')[0]!, '10.96.0.30', 8, intBelow(rng, 100));
      flows.push({ first: p, step: 0 });
      both(p);
    } else {
      const f = flows[intBelow(rng, flows.length)]!;
      const p = f.first;
      if (p.proto === 'tcp') {
        if (intBelow(rng, 25) === 0) both(tcp(`${p.src.text}:${p.sport}`, `${p.dst.text}:${p.dport}`, RST));
        else if (f.step < TCP_SCRIPT.length) {
          const [orig, flags] = TCP_SCRIPT[f.step++]!;
          both(orig ? tcp(`${p.src.text}:${p.sport}`, `${p.dst.text}:${p.dport}`, flags) : reverse(p, flags));
        } else {
          f.step = 0;
          both(p); // the port comes back: a SYN on TIME_WAIT reopens
        }
      } else if (p.proto === 'udp') {
        both(intBelow(rng, 2) ? reverse(p) : p); // replies, then a stream after 2 s: the same timeout again
      } else {
        both(intBelow(rng, 2) ? icmp(p.dst.text, p.src.text, 0, p.icmp!.id) : p);
      }
    }
    // The clock: mostly small steps, sometimes the length of a timeout or more, sometimes back.
    const j = intBelow(rng, 100);
    if (j < 80) now += intBelow(rng, 300);
    else if (j < 95) now += intBelow(rng, 40) * S;
    else if (j < 98) now += intBelow(rng, 3) * 86_400 * S;
    else if (backwards) now -= intBelow(rng, 200) * S;
    if (intBelow(rng, 10) === 0) {
      const before = b.size;
      b.delete(NOTHING, now);
      const n = a.gc(now);
      expect(n).toBe(before - b.size);
      gcRemoved += n;
    }
    expect(a.size).toBe(b.size);
    expect(a.statistics()).toEqual(b.statistics());
    if (i % 50 === 0 || i === steps - 1) expect(snapshot(a)).toEqual(snapshot(b));
    maxSlots = Math.max(maxSlots, slotsOf(a));
  }
  return { gcRemoved, maxSlots };
}

describe('conntrack expiry timers', () => {
  it('gc removes exactly what a full scan removes, with the clock moving forward', () => {
    for (const seed of [1, 2, 3]) {
      const r = run(seed, 6000, false);
      expect(r.gcRemoved).toBeGreaterThan(500);
    }
  });

  it('the same with a clock that sometimes goes back', () => {
    for (const seed of [4, 5, 6]) {
      const r = run(seed, 6000, true);
      expect(r.gcRemoved).toBeGreaterThan(500);
    }
  });

  it('closed connections leave no timer slots behind (an ESTABLISHED slot is 5 days out)', () => {
    const t = new ConntrackTable();
    let now = 1_764_900_000_000;
    for (let i = 0; i < 40_000; i++) {
      const c = `10.244.0.5:${1024 + (i % 20_000)}`;
      const syn = tcp(c, '10.96.0.20:80', SYN);
      const r = t.process(syn, now);
      if (r.kind === 'tracked' && r.created) t.confirm(r.entry, now);
      t.process(reverse(syn, SYN_ACK), now);
      t.process(tcp(c, '10.96.0.20:80', ACK), now);
      t.process(tcp(c, '10.96.0.20:80', FIN_ACK), now);
      t.process(reverse(syn, FIN_ACK), now);
      t.process(tcp(c, '10.96.0.20:80', ACK), now);
      now += 5; // 20,000 ports in 100 s: each comes back while its entry is in TIME_WAIT
      if (i % 400 === 0) t.gc(now);
    }
    // 20,000 entries in TIME_WAIT (ports come back within 120 s, so SYNs reopen them): every other
    // slot (SYN_SENT, SYN_RECV, ESTABLISHED, FIN_WAIT, LAST_ACK) was cleared and, past a few
    // thousand, squeezed out or popped. Without clearing, the ESTABLISHED FIFO alone would hold 40,000.
    expect(t.size).toBe(20_000);
    expect(slotsOf(t)).toBeLessThan(3 * 20_000 + 5 * 4096);
    now += 121 * S;
    expect(t.gc(now)).toBe(20_000);
    expect(t.size).toBe(0);
    expect(slotsOf(t)).toBeLessThan(5 * 4096);
  });
});
