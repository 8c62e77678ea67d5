import { describe, expect, it } from 'vitest';
import type { ConntrackEntryView, CtResult } from '../../netmodel/conntrack/index.js';
import { ConntrackTable, CtStatus, secondsLeft, tcpTableNext } from '../../netmodel/conntrack/index.js';
import type { TcpFlags } from '../../netmodel/packet.js';
import { ACK, FIN_ACK, RST, SYN, SYN_ACK } from '../../netmodel/packet.js';
import { S, tcp } from './builders.js';

const C = '10.244.0.5:40000';
const B = '10.244.1.7:8080';

/** Drive a flow: each step is [direction, flags]; returns the entry and per-step results. */
function drive(steps: ['o' | 'r', TcpFlags][], table = new ConntrackTable(), t0 = 0) {
  const results: CtResult[] = [];
  const states: (string | undefined)[] = [];
  let entry: ConntrackEntryView | undefined;
  let now = t0;
  for (const [d, f] of steps) {
    const p = d === 'o' ? tcp(C, B, f) : tcp(B, C, f);
    const r = table.process(p, now);
    results.push(r);
    if (r.kind === 'tracked') {
      if (r.created) table.confirm(r.entry, now);
      entry = r.entry;
    }
    states.push(state(r));
    now += 10;
  }
  return { table, results, states, entry: entry!, now };
}

const state = (r: CtResult | undefined) => (r?.kind === 'tracked' ? r.entry.tcpState : r?.kind);

describe('TCP conntrack state machine', () => {
  it('3-way handshake: SYN_SENT 120 s, SYN_RECV 60 s, ESTABLISHED 432000 s + ASSURED (as captured on Linux 6.18)', () => {
    const table = new ConntrackTable();
    const syn = table.process(tcp(C, B, SYN), 0);
    expect(syn.kind).toBe('tracked');
    if (syn.kind !== 'tracked') return;
    expect(syn.ctstate).toBe('NEW');
    expect(syn.entry.tcpState).toBe('SYN_SENT');
    table.confirm(syn.entry, 0);
    expect(secondsLeft(syn.entry, 0)).toBe(120);
    expect(syn.entry.status & CtStatus.SEEN_REPLY).toBe(0);

    const synack = table.process(tcp(B, C, SYN_ACK), 1);
    expect(synack.kind === 'tracked' && synack.ctinfo).toBe('ESTABLISHED_REPLY');
    expect(syn.entry.tcpState).toBe('SYN_RECV');
    expect(secondsLeft(syn.entry, 1)).toBe(60);
    expect(syn.entry.status & CtStatus.SEEN_REPLY).toBeTruthy();
    expect(syn.entry.status & CtStatus.ASSURED).toBe(0);

    const ack = table.process(tcp(C, B, ACK), 2);
    expect(ack.kind === 'tracked' && ack.ctinfo).toBe('ESTABLISHED');
    expect(syn.entry.tcpState).toBe('ESTABLISHED');
    expect(secondsLeft(syn.entry, 2)).toBe(432000);
    expect(syn.entry.status & CtStatus.ASSURED).toBeTruthy();
  });

  it('retransmitted SYN before any reply stays NEW', () => {
    const { results } = drive([
      ['o', SYN],
      ['o', SYN],
    ]);
    expect(results[1]!.kind === 'tracked' && results[1]!.ctstate).toBe('NEW');
  });

  it('client closes first: FIN_WAIT 120, LAST_ACK 30, TIME_WAIT 120 (the sequence Linux reported)', () => {
    const steps: ['o' | 'r', TcpFlags][] = [
      ['o', SYN],
      ['r', SYN_ACK],
      ['o', ACK],
      ['o', ACK],
      ['r', ACK],
      ['o', FIN_ACK],
      ['r', FIN_ACK],
      ['o', ACK],
    ];
    const { entry, states } = drive(steps);
    expect(states).toEqual([
      'SYN_SENT',
      'SYN_RECV',
      'ESTABLISHED',
      'ESTABLISHED',
      'ESTABLISHED',
      'FIN_WAIT',
      'LAST_ACK',
      'TIME_WAIT',
    ]);
    expect(entry.status & CtStatus.ASSURED).toBeTruthy();
  });

  it('full close both ways with CLOSE_WAIT', () => {
    const table = new ConntrackTable();
    const seq: ['o' | 'r', TcpFlags, string, number][] = [
      ['o', SYN, 'SYN_SENT', 120],
      ['r', SYN_ACK, 'SYN_RECV', 60],
      ['o', ACK, 'ESTABLISHED', 432000],
      ['o', FIN_ACK, 'FIN_WAIT', 120],
      ['r', ACK, 'CLOSE_WAIT', 60],
      ['r', FIN_ACK, 'LAST_ACK', 30],
      ['o', ACK, 'TIME_WAIT', 120],
    ];
    let e: ConntrackEntryView | undefined;
    seq.forEach(([d, f, st, secs], i) => {
      const r = table.process(d === 'o' ? tcp(C, B, f) : tcp(B, C, f), i * S);
      expect(r.kind).toBe('tracked');
      if (r.kind !== 'tracked') return;
      if (r.created) table.confirm(r.entry, i * S);
      e = r.entry;
      expect([e.tcpState, secondsLeft(e, i * S)]).toEqual([st, secs]);
    });
    // TIME_WAIT expires after 120 s.
    expect(table.lookup(tcp(C, B, ACK), 6 * S + 119 * S)).toBeDefined();
    expect(table.lookup(tcp(C, B, ACK), 6 * S + 120 * S)).toBeUndefined();
    expect(e!.status & CtStatus.DYING).toBeTruthy();
  });

  it('simultaneous FIN: FIN_WAIT then LAST_ACK then TIME_WAIT', () => {
    const { entry } = drive([
      ['o', SYN],
      ['r', SYN_ACK],
      ['o', ACK],
      ['o', FIN_ACK],
      ['r', FIN_ACK],
    ]);
    expect(entry.tcpState).toBe('LAST_ACK');
  });

  it('RST as the only reply deletes the entry at once (captured: [DESTROY] ... CLOSE)', () => {
    const table = new ConntrackTable();
    const syn = table.process(tcp(C, B, SYN), 0);
    if (syn.kind !== 'tracked') throw new Error('not tracked');
    table.confirm(syn.entry, 0);
    const rst = table.process(tcp(B, C, { ...RST, ack: true }), 1);
    expect(rst.kind === 'tracked' && rst.ctinfo).toBe('ESTABLISHED_REPLY');
    expect(syn.entry.tcpState).toBe('CLOSE');
    expect(syn.entry.status & CtStatus.DYING).toBeTruthy();
    expect(table.size).toBe(0);
  });

  it('RST on an established flow: CLOSE with the 10 s close timeout', () => {
    const { entry, table, now } = drive([
      ['o', SYN],
      ['r', SYN_ACK],
      ['o', ACK],
      ['r', RST],
    ]);
    expect(entry.tcpState).toBe('CLOSE');
    expect(secondsLeft(entry, now - 10)).toBe(10);
    expect(table.size).toBe(1);
  });

  it('a SYN on a TIME_WAIT entry reopens the connection as a new entry', () => {
    const { table, entry, now } = drive([
      ['o', SYN],
      ['r', SYN_ACK],
      ['o', ACK],
      ['o', FIN_ACK],
      ['r', FIN_ACK],
      ['o', ACK],
    ]);
    expect(entry.tcpState).toBe('TIME_WAIT');
    const r = table.process(tcp(C, B, SYN), now);
    expect(r.kind === 'tracked' && r.created).toBe(true);
    expect(r.kind === 'tracked' && r.entry.tcpState).toBe('SYN_SENT');
    expect(entry.status & CtStatus.DYING).toBeTruthy();
  });

  it('mid-stream pickup (nf_conntrack_tcp_loose=1): ESTABLISHED unreplied with the 300 s cap, ASSURED later', () => {
    const { results, entry } = drive([['o', ACK]]);
    expect(state(results[0])).toBe('ESTABLISHED');
    expect(secondsLeft(entry, 0)).toBe(300);
    const table = new ConntrackTable();
    const a = table.process(tcp(C, B, ACK), 0);
    if (a.kind !== 'tracked') throw new Error('x');
    table.confirm(a.entry, 0);
    table.process(tcp(B, C, ACK), 1);
    expect(a.entry.status & CtStatus.ASSURED).toBe(0);
    table.process(tcp(C, B, ACK), 2);
    expect(a.entry.status & CtStatus.ASSURED).toBeTruthy();
    expect(secondsLeft(a.entry, 2)).toBe(432000);
  });

  it('nf_conntrack_tcp_loose=0: a non-SYN first packet is INVALID', () => {
    const table = new ConntrackTable({ sysctls: { nf_conntrack_tcp_loose: 0 } });
    expect(table.process(tcp(C, B, ACK), 0).kind).toBe('invalid');
    expect(table.process(tcp(C, B, SYN), 0).kind).toBe('tracked');
  });

  it('INVALID: SYN/ACK, FIN or RST with no entry, and bad flag combinations', () => {
    const table = new ConntrackTable();
    expect(table.process(tcp(C, B, SYN_ACK), 0).kind).toBe('invalid');
    expect(table.process(tcp(C, B, RST), 0).kind).toBe('invalid');
    expect(table.process(tcp(C, B, { syn: true, fin: true, ack: false, rst: false }), 0).kind).toBe(
      'invalid',
    );
    expect(table.process(tcp(C, B, { syn: false, fin: true, ack: false, rst: false }), 0).kind).toBe(
      'invalid',
    );
    expect(table.size).toBe(0);
  });

  it('an ACK from the client in SYN_SENT is INVALID and leaves the entry alone', () => {
    const { results, entry } = drive([
      ['o', SYN],
      ['o', ACK],
    ]);
    expect(results[1]!.kind).toBe('invalid');
    expect(entry.tcpState).toBe('SYN_SENT');
  });

  it('simultaneous open goes SYN_SENT -> SYN_SENT2 -> SYN_RECV -> ESTABLISHED', () => {
    const { entry, results } = drive([
      ['o', SYN],
      ['r', SYN],
      ['o', SYN_ACK],
      ['r', ACK],
    ]);
    expect(results.every((r) => r.kind === 'tracked')).toBe(true);
    expect(entry.tcpState).toBe('ESTABLISHED');
    expect(tcpTableNext('REPLY', 'SYN', 'SYN_SENT')).toBe('SYN_SENT2');
  });

  it('table spot checks against Linux tcp_conntracks', () => {
    expect(tcpTableNext('ORIGINAL', 'SYN', 'ESTABLISHED')).toBe('IG');
    expect(tcpTableNext('REPLY', 'SYNACK', 'ESTABLISHED')).toBe('IG');
    expect(tcpTableNext('ORIGINAL', 'SYNACK', 'SYN_SENT')).toBe('IV');
    expect(tcpTableNext('REPLY', 'SYN', 'TIME_WAIT')).toBe('SYN_SENT');
    expect(tcpTableNext('ORIGINAL', 'FIN', 'CLOSE_WAIT')).toBe('LAST_ACK');
    expect(tcpTableNext('REPLY', 'ACK', 'SYN_SENT')).toBe('IG');
  });
});
