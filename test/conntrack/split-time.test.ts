/**
 * Entry times kept as two small integers (split-time.ts): every time reads back as stored, and a
 * table on the runtime's clock (Date.now()-sized, fractional from performance.now()) keeps the
 * kernel's timeouts to the millisecond: TIME_WAIT 120 s, UDP's 2 s stream threshold, expiry at
 * exactly `expiresAt`.
 */
import { describe, expect, it } from 'vitest';
import { ConntrackTable, CtStatus, secondsLeft } from '../../netmodel/conntrack/index.js';
import { timeHi, timeLo, timeOf } from '../../netmodel/conntrack/split-time.js';
import { ACK, FIN_ACK, SYN, SYN_ACK } from '../../netmodel/packet.js';
import { intBelow, SeededRng } from '../../netmodel/rng.js';
import { reverse, tcp, udp } from './builders.js';

function roundTrip(t: number): number {
  const hi = timeHi(t);
  return timeOf(hi, timeLo(t, hi));
}

describe('split times', () => {
  it('read back every time exactly, and halve whole times into small integers', () => {
    const special = [
      0,
      1,
      -1,
      0.5,
      -0.5,
      1e-20,
      -1e-20,
      2 ** 30,
      2 ** 30 - 0.25,
      -(2 ** 30),
      2 ** 53,
      -(2 ** 53),
      1e300,
      -1e300,
      Number.MIN_VALUE,
      -Number.MIN_VALUE,
      Number.POSITIVE_INFINITY,
      Number.NEGATIVE_INFINITY,
      1_764_900_000_000,
      1_764_900_000_000.125,
    ];
    for (const t of special) expect(roundTrip(t)).toBe(t);
    expect(roundTrip(Number.NaN)).toBeNaN();
    const rng = new SeededRng(3);
    const wrong: number[] = [];
    for (let i = 0; i < 10_000; i++) {
      // Date.now()-sized whole and fractional times, and small ones of both signs.
      const whole = 1_700_000_000_000 + intBelow(rng, 2 ** 30) * 97 + intBelow(rng, 1000);
      const frac = whole + intBelow(rng, 1 << 20) / (1 << 20);
      const small = (intBelow(rng, 2_000_001) - 1_000_000) / 7;
      for (const t of [whole, frac, small]) if (roundTrip(t) !== t) wrong.push(t);
      const hi = timeHi(whole);
      const lo = timeLo(whole, hi);
      // Both halves fit V8's 31-bit small integers (so no heap number per field).
      if (
        !Number.isInteger(hi) ||
        !Number.isInteger(lo) ||
        lo < 0 ||
        lo >= 2 ** 30 ||
        Math.abs(hi) >= 2 ** 30
      )
        wrong.push(whole);
    }
    expect(wrong).toEqual([]);
  });

  it('keep the kernel timeouts on a Date.now()-sized fractional clock', () => {
    const t0 = 1_764_900_000_123.375;
    const table = new ConntrackTable();
    const C = '10.244.0.5:40000';
    const B = '10.244.1.7:8080';
    const syn = table.process(tcp(C, B, SYN), t0);
    if (syn.kind !== 'tracked') throw new Error('not tracked');
    table.confirm(syn.entry, t0);
    expect(syn.entry.createdAt).toBe(t0);
    // SYN_SENT: nf_conntrack_tcp_timeout_syn_sent 120 s.
    expect(syn.entry.expiresAt).toBe(t0 + 120_000);
    const steps: [string, string, typeof SYN][] = [
      [B, C, SYN_ACK],
      [C, B, ACK],
      [C, B, FIN_ACK],
      [B, C, FIN_ACK],
      [C, B, ACK],
    ];
    let now = t0;
    for (const [from, to, flags] of steps) {
      now += 0.5;
      table.process(tcp(from, to, flags), now);
    }
    expect(syn.entry.tcpState).toBe('TIME_WAIT');
    // nf_conntrack_tcp_timeout_time_wait 120 s from the last packet, to the millisecond.
    expect(syn.entry.expiresAt).toBe(now + 120_000);
    expect(secondsLeft(syn.entry, now + 1000)).toBe(119);
    expect(table.entries(now + 119_999.75)).toHaveLength(1);
    expect(table.entries(now + 120_000)).toHaveLength(0);
    expect(table.gc(now + 120_000)).toBe(1);
  });

  it('count a replied UDP flow as a stream only after 2 s (stream_ts), on a Date.now()-sized clock', () => {
    const t0 = 1_764_900_000_000;
    const table = new ConntrackTable();
    const q = udp('10.244.0.5:5353', '10.96.0.10:53');
    const first = table.process(q, t0);
    if (first.kind !== 'tracked') throw new Error('not tracked');
    table.confirm(first.entry, t0);
    table.process(reverse(q), t0 + 10);
    // Within 2 s of creation: nf_conntrack_udp_timeout (30 s), not ASSURED.
    table.process(q, t0 + 2000);
    expect(first.entry.expiresAt).toBe(t0 + 2000 + 30_000);
    expect(first.entry.status & CtStatus.ASSURED).toBe(0);
    // After 2 s: nf_conntrack_udp_timeout_stream (120 s) and ASSURED.
    table.process(q, t0 + 2001);
    expect(first.entry.expiresAt).toBe(t0 + 2001 + 120_000);
    expect(first.entry.status & CtStatus.ASSURED).toBe(CtStatus.ASSURED);
  });
});
