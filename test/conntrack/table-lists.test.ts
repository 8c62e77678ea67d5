/**
 * The table's own lists (table.ts): confirmed entries in confirm order, the unassured ones oldest
 * first for early_drop, and the unordered array gc scans. Checked against a plain model over random
 * traffic: gc removes exactly the expired entries, `conntrack -L` order is confirm order whatever
 * was removed in between, and early_drop evicts the oldest entry that is not ASSURED.
 */
import { describe, expect, it } from 'vitest';
import { ConntrackTable, CtStatus } from '../../netmodel/conntrack/index.js';
import { ACK, FIN_ACK, SYN, SYN_ACK } from '../../netmodel/packet.js';
import { intBelow, SeededRng } from '../../netmodel/rng.js';
import { reverse, tcp, udp } from './builders.js';

describe('conntrack table lists', () => {
  it('gc removes exactly the expired entries and listing keeps confirm order', () => {
    const rng = new SeededRng(11);
    const table = new ConntrackTable();
    let now = 1_764_900_000_000;
    const ids: number[] = [];
    for (let round = 0; round < 40; round++) {
      for (let i = 0; i < 100; i++) {
        const c = `10.244.${intBelow(rng, 4)}.${1 + intBelow(rng, 200)}:${1024 + intBelow(rng, 60000)}`;
        const kind = intBelow(rng, 3);
        if (kind === 0) {
          // A UDP query: 30 s.
          const q = udp(c, '10.96.0.10:53');
          const r = table.process(q, now);
          if (r.kind === 'tracked' && r.created && table.confirm(r.entry, now).kind === 'confirmed')
            ids.push(r.entry.id);
        } else {
          // A TCP connection left at SYN_SENT (120 s) or closed to TIME_WAIT (120 s after its last packet).
          const syn = tcp(c, '10.96.0.20:80', SYN);
          const r = table.process(syn, now);
          if (r.kind === 'tracked' && r.created && table.confirm(r.entry, now).kind === 'confirmed')
            ids.push(r.entry.id);
          if (kind === 2) {
            table.process(reverse(syn, SYN_ACK), now + 1);
            table.process(tcp(c, '10.96.0.20:80', ACK), now + 2);
            table.process(tcp(c, '10.96.0.20:80', FIN_ACK), now + 3);
            table.process(reverse(syn, FIN_ACK), now + 4);
            table.process(tcp(c, '10.96.0.20:80', ACK), now + 5);
          }
        }
        now += 1 + intBelow(rng, 400);
      }
      const listed = table.entries(now);
      // The model: what is listed is every confirmed entry not yet expired, in confirm order.
      const live = ids.filter((id) => listed.some((e) => e.id === id));
      expect(listed.map((e) => e.id)).toEqual(live);
      const expired = table.size - listed.length;
      expect(table.gc(now)).toBe(expired);
      expect(table.size).toBe(listed.length);
      expect(table.entries(now).map((e) => e.id)).toEqual(live);
    }
  });

  it('early_drop evicts the oldest unassured entry, skipping the ASSURED ones and those gone', () => {
    const table = new ConntrackTable({ sysctls: { nf_conntrack_max: 4 } });
    const now = 1_764_900_000_000;
    const open = (port: number, assured: boolean) => {
      const c = `10.244.0.5:${port}`;
      const syn = tcp(c, '10.96.0.20:80', SYN);
      const r = table.process(syn, now);
      if (r.kind !== 'tracked') throw new Error(r.kind);
      table.confirm(r.entry, now);
      if (assured) {
        table.process(reverse(syn, SYN_ACK), now);
        table.process(tcp(c, '10.96.0.20:80', ACK), now);
      }
      return r.entry;
    };
    const a = open(1001, true);
    const b = open(1002, false);
    const c = open(1003, false);
    const d = open(1004, false);
    expect(a.status & CtStatus.ASSURED).toBe(CtStatus.ASSURED);
    // b goes by hand; the table is then at 3 of 4, so a fifth fits without evicting.
    expect(table.deleteTuple(b.original, now)).toBe(true);
    open(1005, false);
    // Full: the next new flow evicts c (the oldest unassured left), then d.
    open(1006, false);
    expect(table.entries(now).map((e) => e.id)).toEqual([a.id, d.id, 5, 6]);
    open(1007, false);
    expect(table.entries(now).map((e) => e.id)).toEqual([a.id, 5, 6, 7]);
    expect(table.statistics().earlyDrop).toBe(2);
    void c;
  });
});
