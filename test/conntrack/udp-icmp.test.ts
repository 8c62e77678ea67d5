import { describe, expect, it } from 'vitest';
import { parseIP } from '../../netmodel/addr.js';
import { ConntrackTable, CtStatus, secondsLeft } from '../../netmodel/conntrack/index.js';
import { packet } from '../../netmodel/packet.js';
import { icmp, S, udp } from './builders.js';

const C = '10.244.0.5:41000';
const B = '10.244.1.7:5353';

function start(table: ConntrackTable, now = 0) {
  const r = table.process(udp(C, B), now);
  if (r.kind !== 'tracked') throw new Error('not tracked');
  table.confirm(r.entry, now);
  return r.entry;
}

describe('UDP conntrack', () => {
  it('unreplied: 30 s, [UNREPLIED], expires', () => {
    const table = new ConntrackTable();
    const e = start(table);
    expect(secondsLeft(e, 0)).toBe(30);
    expect(e.status & CtStatus.SEEN_REPLY).toBe(0);
    expect(table.lookup(udp(C, B), 29_999)).toBeDefined();
    expect(table.gc(30 * S)).toBe(1);
    expect(table.size).toBe(0);
  });

  it('one reply within 2 s: SEEN_REPLY but not ASSURED, still 30 s (captured: "udp 17 24 ... mark=0 use=1")', () => {
    const table = new ConntrackTable();
    const e = start(table);
    const r = table.process(udp(B, C), 100);
    expect(r.kind === 'tracked' && r.ctstate).toBe('ESTABLISHED');
    expect(e.status & CtStatus.SEEN_REPLY).toBeTruthy();
    table.process(udp(C, B), 200);
    expect(e.status & CtStatus.ASSURED).toBe(0);
    expect(secondsLeft(e, 200)).toBe(30);
  });

  it('replied and still active after 2 s: ASSURED with nf_conntrack_udp_timeout_stream = 120 s', () => {
    const table = new ConntrackTable();
    const e = start(table);
    table.process(udp(B, C), 100);
    table.process(udp(C, B), 2000); // not after 2 s yet (time_after is strict)
    expect(e.status & CtStatus.ASSURED).toBe(0);
    table.process(udp(C, B), 2001);
    expect(e.status & CtStatus.ASSURED).toBeTruthy();
    expect(secondsLeft(e, 2001)).toBe(120);
  });

  it('later packets of the flow are ESTABLISHED in both directions', () => {
    const table = new ConntrackTable();
    start(table);
    table.process(udp(B, C), 1);
    const again = table.process(udp(C, B), 2);
    expect(again.kind === 'tracked' && again.ctinfo).toBe('ESTABLISHED');
  });
});

describe('ICMP conntrack', () => {
  it('echo request/reply: 30 s, reply tuple type=0, no ASSURED', () => {
    const table = new ConntrackTable();
    const r = table.process(icmp('10.244.0.5', '10.244.1.7', 8, 4660), 0);
    if (r.kind !== 'tracked') throw new Error('x');
    table.confirm(r.entry, 0);
    expect(r.entry.reply.icmpType).toBe(0);
    expect(secondsLeft(r.entry, 0)).toBe(30);
    const rep = table.process(icmp('10.244.1.7', '10.244.0.5', 0, 4660), 1);
    expect(rep.kind === 'tracked' && rep.dir).toBe('REPLY');
    expect(r.entry.status & CtStatus.ASSURED).toBe(0);
  });

  it('an echo reply with no entry is INVALID', () => {
    expect(new ConntrackTable().process(icmp('10.244.1.7', '10.244.0.5', 0, 1), 0).kind).toBe('invalid');
  });

  it('ICMP errors quoting a tracked packet are RELATED; otherwise INVALID', () => {
    const table = new ConntrackTable();
    const syn = table.process(udp(C, B), 0);
    if (syn.kind !== 'tracked') throw new Error('x');
    table.confirm(syn.entry, 0);
    const err = packet({
      proto: 'icmp',
      src: parseIP('10.244.1.7'),
      dst: parseIP('10.244.0.5'),
      icmp: { type: 3, code: 3, id: 0 },
    });
    const rel = table.process(err, 1, { icmpInner: udp(C, B) });
    expect(rel.kind === 'tracked' && rel.ctstate).toBe('RELATED');
    expect(rel.kind === 'tracked' && rel.ctinfo).toBe('RELATED_REPLY');
    expect(table.process(err, 1).kind).toBe('invalid');
    expect(table.process(err, 1, { icmpInner: udp('10.1.1.1:1', '10.2.2.2:2') }).kind).toBe('invalid');
  });

  it('NOTRACK packets are UNTRACKED and leave no entry', () => {
    const table = new ConntrackTable();
    expect(table.process(udp(C, B), 0, { notrack: true }).kind).toBe('untracked');
    expect(table.size).toBe(0);
  });
});
