import { describe, expect, it } from 'vitest';
import { parseIP } from '../../netmodel/addr.js';
import type { ConntrackEntryView, NatRange } from '../../netmodel/conntrack/index.js';
import { ConntrackTable, CtStatus, isDnat, isSnat, translate } from '../../netmodel/conntrack/index.js';
import type { Packet } from '../../netmodel/packet.js';
import { ACK, SYN, SYN_ACK } from '../../netmodel/packet.js';
import { SeededRng } from '../../netmodel/rng.js';
import { icmp, tcp, udp } from './builders.js';
import { first, fixedRng } from './flow.js';

const ip = parseIP;
const hostPort = (p: Packet) => `${p.src.text}:${p.sport} -> ${p.dst.text}:${p.dport}`;

describe('DNAT and SNAT bindings', () => {
  it('DNAT to a pod: the reply tuple is rewritten, later packets and replies follow the entry', () => {
    const table = new ConntrackTable();
    const syn = tcp('10.244.0.5:40000', '10.96.0.10:80', SYN);
    const { entry, out } = first(table, syn, 0, {
      dnat: { minAddr: ip('10.244.1.7'), maxAddr: ip('10.244.1.7'), minPort: 8080, maxPort: 8080 },
    });
    expect(hostPort(out)).toBe('10.244.0.5:40000 -> 10.244.1.7:8080');
    expect(entry.reply.src.text).toBe('10.244.1.7');
    expect(entry.reply.sport).toBe(8080);
    expect(entry.status & CtStatus.DST_NAT).toBeTruthy();
    expect(entry.status & CtStatus.SRC_NAT).toBe(0);
    expect(isDnat(entry) && !isSnat(entry)).toBe(true);

    // The reply from the pod matches the reply tuple and is un-DNATed to the VIP.
    const synack = tcp('10.244.1.7:8080', '10.244.0.5:40000', SYN_ACK);
    const r = table.process(synack, 1);
    expect(r.kind === 'tracked' && r.dir).toBe('REPLY');
    if (r.kind !== 'tracked') return;
    expect(hostPort(translate(r.entry, r.dir, synack))).toBe('10.96.0.10:80 -> 10.244.0.5:40000');

    // Later client packets never see nat rules: the entry alone rewrites them.
    const ack = tcp('10.244.0.5:40000', '10.96.0.10:80', ACK);
    const a = table.process(ack, 2);
    if (a.kind !== 'tracked') throw new Error('x');
    expect(a.ctstate).toBe('ESTABLISHED');
    expect(table.needsNat(a.entry, 'DST')).toBe(false);
    expect(hostPort(translate(a.entry, a.dir, ack))).toBe('10.244.0.5:40000 -> 10.244.1.7:8080');
  });

  it('MASQUERADE/SNAT: the source is rewritten and replies to the node address go back to the client', () => {
    const table = new ConntrackTable();
    const p = udp('10.244.0.5:41002', '10.244.1.7:5353');
    const { entry, out } = first(table, p, 0, {
      snat: { minAddr: ip('10.244.1.1'), maxAddr: ip('10.244.1.1') },
    });
    expect(hostPort(out)).toBe('10.244.1.1:41002 -> 10.244.1.7:5353');
    expect(entry.reply.dst.text).toBe('10.244.1.1');
    const back = udp('10.244.1.7:5353', '10.244.1.1:41002');
    const r = table.process(back, 1);
    if (r.kind !== 'tracked') throw new Error('x');
    expect(hostPort(translate(r.entry, r.dir, back))).toBe('10.244.1.7:5353 -> 10.244.0.5:41002');
  });

  it('DNAT + MASQUERADE together (hairpin / kube-proxy masquerade) are inverted on the reply', () => {
    const table = new ConntrackTable();
    const p = udp('10.244.0.5:41000', '10.96.0.11:53');
    const { entry, out } = first(table, p, 0, {
      dnat: { minAddr: ip('10.244.1.7'), maxAddr: ip('10.244.1.7'), minPort: 5353, maxPort: 5353 },
      snat: { minAddr: ip('10.244.1.1'), maxAddr: ip('10.244.1.1') },
    });
    expect(hostPort(out)).toBe('10.244.1.1:41000 -> 10.244.1.7:5353');
    const back = udp('10.244.1.7:5353', '10.244.1.1:41000');
    expect(hostPort(translate(entry, 'REPLY', back))).toBe('10.96.0.11:53 -> 10.244.0.5:41000');
  });

  it('ICMP echo ids are mapped like ports', () => {
    const table = new ConntrackTable();
    const p = icmp('10.244.0.5', '8.8.8.8', 8, 77);
    const { entry, out } = first(table, p, 0, { snat: { minAddr: ip('10.0.0.1'), maxAddr: ip('10.0.0.1') } });
    expect(out.src.text).toBe('10.0.0.1');
    expect(out.icmp?.id).toBe(77);
    const back = icmp('8.8.8.8', '10.0.0.1', 0, 77);
    expect(translate(entry, 'REPLY', back).dst.text).toBe('10.244.0.5');
  });
});

describe('source port clash handling (nf_nat_core.c get_unique_tuple)', () => {
  const masq: NatRange = { minAddr: ip('10.244.1.1'), maxAddr: ip('10.244.1.1') };
  const dst = '10.244.1.7:9999';

  it('keeps the source port when free; on a clash picks 1024 + (random u16 offset mod 64512)', () => {
    // Linux 6.18 picked 10569 and 58537 for the second and third client using sport 41010.
    const table = new ConntrackTable();
    const a = first(table, udp('10.244.0.5:41010', dst), 0, { snat: masq });
    const b = first(table, udp('10.244.0.6:41010', dst), 0, { snat: masq }, fixedRng(10569 - 1024));
    const c = first(table, udp('10.244.0.7:41010', dst), 0, { snat: masq }, fixedRng(58537 - 1024));
    expect([a.out.sport, b.out.sport, c.out.sport]).toEqual([41010, 10569, 58537]);
    expect([a, b, c].every((f) => f.confirm.kind === 'confirmed')).toBe(true);
  });

  it('tries the following ports in order after a taken one', () => {
    const table = new ConntrackTable();
    first(table, udp('10.244.0.5:41010', dst), 0, { snat: masq });
    first(table, udp('10.244.0.6:41010', dst), 0, { snat: masq }, fixedRng(5000));
    const c = first(table, udp('10.244.0.7:41010', dst), 0, { snat: masq }, fixedRng(5000));
    expect(c.out.sport).toBe(6025);
  });

  it('privileged source ports stay privileged (1-511, 600-1023)', () => {
    const table = new ConntrackTable();
    first(table, udp('10.244.0.5:123', dst), 0, { snat: masq });
    const b = first(table, udp('10.244.0.6:123', dst), 0, { snat: masq }, fixedRng(1000));
    expect(b.out.sport).toBeGreaterThanOrEqual(1);
    expect(b.out.sport).toBeLessThanOrEqual(511);
    expect(b.out.sport).toBe(1 + (1000 % 511));
  });

  it('--random-fully ignores the original port even without a clash', () => {
    const table = new ConntrackTable();
    const a = first(
      table,
      udp('10.244.0.5:41010', dst),
      0,
      { snat: { ...masq, randomFully: true } },
      fixedRng(0),
    );
    expect(a.out.sport).toBe(1024);
  });

  it('a --to-ports range keeps an in-range port and maps others into it', () => {
    const table = new ConntrackTable();
    const range: NatRange = { ...masq, minPort: 20000, maxPort: 20001 };
    const a = first(table, udp('10.244.0.5:20000', dst), 0, { snat: range });
    const b = first(table, udp('10.244.0.6:20000', dst), 0, { snat: range }, fixedRng(0));
    const c = first(table, udp('10.244.0.7:20000', dst), 0, { snat: range }, fixedRng(0));
    expect([a.out.sport, b.out.sport]).toEqual([20000, 20001]);
    // The range is exhausted: the last candidate fails to confirm, as in the kernel.
    expect(c.confirm.kind).toBe('drop');
  });

  it('a second flow from the same source reuses its mapping (find_appropriate_src)', () => {
    const table = new ConntrackTable();
    first(table, udp('10.244.0.5:41010', dst), 0, { snat: masq });
    first(table, udp('10.244.0.6:41010', dst), 0, { snat: masq }, fixedRng(100));
    const again = first(table, udp('10.244.0.6:41010', '10.244.1.8:9999'), 0, { snat: masq }, fixedRng(999));
    expect(again.out.sport).toBe(1124);
  });

  it('find_appropriate_src also finds flows SNATed before any source lookup (--random-fully, null bindings)', () => {
    // The table builds its by-source index on the first lookup that needs it (table.ts): what was
    // confirmed before must be in it, in confirm order, as the kernel's always-kept hash has it.
    const table = new ConntrackTable();
    first(table, udp('10.244.0.5:41010', dst), 0, {}); // a null binding only
    first(table, udp('10.244.0.6:41010', dst), 0, { snat: { ...masq, randomFully: true } }, fixedRng(100));
    expect(table.lookup(udp('10.244.1.7:9999', '10.244.1.1:1124'), 0)?.dir).toBe('REPLY');
    // Not in range (10.244.0.6 is not 10.244.1.1) and not random: the mapping of the flow above.
    const again = first(table, udp('10.244.0.6:41010', '10.244.1.8:9999'), 0, { snat: masq }, fixedRng(999));
    expect(again.out.sport).toBe(1124);
    // Flows confirmed after the index was built are in it too.
    first(table, udp('10.244.0.7:41011', dst), 0, { snat: { ...masq, randomFully: true } }, fixedRng(200));
    const third = first(table, udp('10.244.0.7:41011', '10.244.1.9:9999'), 0, { snat: masq }, fixedRng(5));
    expect(third.out.sport).toBe(1224);
  });

  it('a null binding moves a port whose reply tuple would clash with a DNATed flow', () => {
    const table = new ConntrackTable();
    // Client reaches the pod through the VIP ...
    first(table, tcp('10.244.0.5:40000', '10.96.0.10:80'), 0, {
      dnat: { minAddr: ip('10.244.1.7'), maxAddr: ip('10.244.1.7'), minPort: 8080, maxPort: 8080 },
    });
    // ... and directly with the same source port: the reply tuples would be identical.
    const direct = first(table, tcp('10.244.0.5:40000', '10.244.1.7:8080'), 0, {}, fixedRng(0));
    expect(direct.out.sport).toBe(1024);
    expect(direct.confirm.kind).toBe('confirmed');
  });
});

describe('table limit, deletion, flush, marks', () => {
  it('table full: evicts the oldest non-ASSURED entry (early_drop), else drops the new packet as a value', () => {
    const table = new ConntrackTable({ sysctls: { nf_conntrack_max: 2 } });
    const a = first(table, udp('10.0.0.1:1', '10.0.0.9:53'), 0, {});
    first(table, udp('10.0.0.2:1', '10.0.0.9:53'), 0, {});
    first(table, udp('10.0.0.3:1', '10.0.0.9:53'), 0, {});
    expect(a.entry.status & CtStatus.DYING).toBeTruthy();
    expect(table.size).toBe(2);
    expect(table.statistics().earlyDrop).toBe(1);

    const full = new ConntrackTable({ sysctls: { nf_conntrack_max: 1 } });
    const syn = tcp('10.0.0.1:1000', '10.0.0.9:80');
    first(full, syn, 0, {});
    full.process(tcp('10.0.0.9:80', '10.0.0.1:1000', SYN_ACK), 1);
    full.process(tcp('10.0.0.1:1000', '10.0.0.9:80', ACK), 2); // ASSURED: not evictable
    const r = full.process(udp('10.0.0.2:1', '10.0.0.9:53'), 3);
    expect(r).toEqual({
      kind: 'drop',
      reason: 'table-full',
      message: 'nf_conntrack: table full, dropping packet',
    });
  });

  it('deletes like kube-proxy: conntrack -D -p udp --orig-dst VIP, --reply-src endpoint, --dport', () => {
    const table = new ConntrackTable();
    const dnat = (ep: string): NatRange => ({ minAddr: ip(ep), maxAddr: ip(ep), minPort: 53, maxPort: 53 });
    first(table, udp('10.244.0.5:1000', '10.96.0.10:53'), 0, { dnat: dnat('10.244.1.2') });
    first(table, udp('10.244.0.5:1001', '10.96.0.10:53'), 0, { dnat: dnat('10.244.1.3') });
    first(table, udp('10.244.0.5:1002', '10.96.0.11:53'), 0, { dnat: dnat('10.244.1.3') });
    first(table, tcp('10.244.0.5:1003', '10.96.0.10:53'), 0, { dnat: dnat('10.244.1.3') });
    first(table, udp('10.244.0.5:1004', '10.0.0.1:30053'), 0, {});
    expect(table.delete({ proto: 'udp', replySrc: ip('10.244.1.2') }, 1)).toBe(1);
    expect(table.delete({ proto: 'udp', origDst: ip('10.96.0.10') }, 1)).toBe(1);
    expect(table.delete({ proto: 'udp', origDport: 30053 }, 1)).toBe(1);
    expect(table.entries(1).map((e: ConntrackEntryView) => e.original.sport)).toEqual([1002, 1003]);
    expect(table.flush()).toBe(2);
    expect(table.size).toBe(0);
  });

  it('ctmark is kept on the entry and filterable', () => {
    const table = new ConntrackTable();
    const a = first(table, udp('10.244.0.5:1000', '10.0.0.9:53'), 0, {});
    table.setMark(a.entry, 0x4000);
    expect(a.entry.mark).toBe(16384);
    expect(table.delete({ mark: { value: 0x4000, mask: 0x4000 } }, 0)).toBe(1);
  });

  it('MASQUERADE entries go when their device goes down; SNAT ones stay', () => {
    const table = new ConntrackTable();
    const p = udp('10.244.0.5:41002', '10.244.1.7:5353');
    const r = table.process(p, 0);
    if (r.kind !== 'tracked') throw new Error('x');
    table.setupNat(
      r.entry,
      'SRC',
      { minAddr: ip('10.244.1.1'), maxAddr: ip('10.244.1.1') },
      {
        now: 0,
        rng: new SeededRng(1),
        masqueradeDevice: 'eth0',
      },
    );
    table.confirm(r.entry, 0);
    first(table, udp('10.244.0.6:1', '10.244.1.7:5353'), 0, { snat: { minAddr: ip('10.244.1.1') } });
    expect(table.flushMasquerade('eth1')).toBe(0);
    expect(table.flushMasquerade('eth0')).toBe(1);
    expect(table.size).toBe(1);
  });

  it('nat setup is refused once confirmed (nat rules do not affect existing flows)', () => {
    const table = new ConntrackTable();
    const a = first(table, udp('10.244.0.5:1000', '10.0.0.9:53'), 0, {});
    const res = table.setupNat(
      a.entry,
      'DST',
      { minAddr: ip('10.1.1.1') },
      { now: 0, rng: new SeededRng(1) },
    );
    expect(res).toEqual({ kind: 'unchanged', reason: 'confirmed' });
  });
});
