/**
 * The connection table through ipvsIn/ipvsOut: IPVS's TCP state machine and timeouts
 * (ip_vs_proto_tcp.c tcp_states / tcp_timeouts), active/inactive accounting
 * (tcp_state_active_table), UDP, persistence templates (ip_vs_core.c ip_vs_sched_persist,
 * ip_vs_conn.c ip_vs_conn_expire), and lc/wlc deciding from those counts.
 */
import { describe, expect, it } from 'vitest';
import { ipEquals, parseIP } from '../../netmodel/addr.js';
import { type IpvsConn, type IpvsProtocol, IpvsTable, ipvsIn, ipvsOut } from '../../netmodel/ipvs/index.js';
import { intBelow, SeededRng } from '../../netmodel/rng.js';
import { rs, tcp, udp, vs } from './builders.js';

const S = 1000;

function one(scheduler: 'rr' | 'lc' | 'wlc' = 'rr', extra = {}) {
  const table = new IpvsTable();
  table.addService(vs('10.96.0.10:80', scheduler, [rs('10.244.1.2:8080'), rs('10.244.2.3:8080')], extra));
  return table;
}

function dest(table: IpvsTable, name: string) {
  for (const s of table.services.values()) for (const d of s.dests) if (d.name === name) return d;
  throw new Error(name);
}

describe('TCP connection states and timeouts', () => {
  it('follows a whole connection, counting it active while SYN_RECV/ESTABLISHED', () => {
    const t = one();
    const c = '10.244.0.7:40000';
    const r = ipvsIn(t, tcp(c, '10.96.0.10:80', 'S'), 0);
    expect(r.kind).toBe('scheduled');
    if (r.kind !== 'scheduled') return;
    const d = r.destination;
    // NONE + IN syn -> SYN_RECV (60 s), an active state.
    expect(r.conn.state).toBe('SYN_RECV');
    expect(r.conn.expiresAt).toBe(60 * S);
    expect([d.activeConns, d.inactConns]).toEqual([1, 0]);
    expect(r.packet.dst.text).toBe(d.ip.text);
    expect(r.packet.dport).toBe(8080);
    // The SYN+ACK from the real server: OUT syn from SYN_RECV stays SYN_RECV; source back to the VIP.
    const o = ipvsOut(t, tcp(`${d.ip.text}:8080`, c, 'SA'), 1 * S);
    expect(o.kind).toBe('reply');
    if (o.kind !== 'reply') return;
    expect(`${o.packet.src.text}:${o.packet.sport}`).toBe('10.96.0.10:80');
    expect(o.conn.state).toBe('SYN_RECV');
    // ACK: IN ack from SYN_RECV -> ESTABLISHED, 900 s.
    const e = ipvsIn(t, tcp(c, '10.96.0.10:80', 'A'), 2 * S);
    expect(e.kind).toBe('existing');
    if (e.kind !== 'existing') return;
    expect(e.conn.state).toBe('ESTABLISHED');
    expect(e.conn.expiresAt).toBe(902 * S);
    // Client FIN: IN fin from ESTABLISHED -> CLOSE_WAIT (60 s), inactive now.
    ipvsIn(t, tcp(c, '10.96.0.10:80', 'FA'), 3 * S);
    expect(e.conn.state).toBe('CLOSE_WAIT');
    expect([d.activeConns, d.inactConns]).toEqual([0, 1]);
    // Server FIN: OUT fin from CLOSE_WAIT -> TIME_WAIT (120 s).
    ipvsOut(t, tcp(`${d.ip.text}:8080`, c, 'FA'), 4 * S);
    expect(e.conn.state).toBe('TIME_WAIT');
    expect(e.conn.expiresAt).toBe(124 * S);
    // Last ACK keeps TIME_WAIT; the entry is gone 120 s after it.
    ipvsIn(t, tcp(c, '10.96.0.10:80', 'A'), 5 * S);
    expect(t.conns.size).toBe(1);
    t.expire(125 * S - 1);
    expect(t.conns.size).toBe(1);
    t.expire(125 * S);
    expect(t.conns.size).toBe(0);
    expect([d.activeConns, d.inactConns]).toEqual([0, 0]);
  });

  it('a RST closes (10 s); a segment with no flag goes to CLOSE', () => {
    const t = one();
    const r = ipvsIn(t, tcp('1.2.3.4:5', '10.96.0.10:80', 'S'), 0);
    if (r.kind !== 'scheduled') throw new Error('not scheduled');
    ipvsIn(t, tcp('1.2.3.4:5', '10.96.0.10:80', 'R'), 1 * S); // IN rst from SYN_RECV -> SYN_RECV
    expect(r.conn.state).toBe('SYN_RECV');
    ipvsOut(t, tcp(`${r.destination.ip.text}:8080`, '1.2.3.4:5', 'R'), 2 * S); // OUT rst -> CLOSE
    expect(r.conn.state).toBe('CLOSE');
    expect(r.conn.expiresAt).toBe(12 * S);
  });

  it('explain: false makes the same decision without building sentences', () => {
    const a = ipvsIn(one(), tcp('1.2.3.4:5', '10.96.0.10:80', 'S'), 0);
    const b = ipvsIn(one(), tcp('1.2.3.4:5', '10.96.0.10:80', 'S'), 0, { explain: false });
    if (a.kind !== 'scheduled' || b.kind !== 'scheduled') throw new Error('not scheduled');
    expect(b.destination.name).toBe(a.destination.name);
    expect(a.explanation.lines.length).toBeGreaterThan(0);
    expect(b.explanation.lines).toEqual([]);
  });

  it('only a SYN starts a connection; other segments go to the local stack', () => {
    const t = one();
    expect(ipvsIn(t, tcp('1.2.3.4:5', '10.96.0.10:80', 'A'), 0).kind).toBe('miss');
    expect(ipvsIn(t, tcp('1.2.3.4:5', '10.96.0.11:80', 'S'), 0)).toMatchObject({ kind: 'miss' });
  });

  it('ipvsadm --set changes ESTABLISHED, FIN_WAIT and UDP timeouts (kube-proxy tcpTimeout...)', () => {
    const t = one();
    t.setTimeouts({ tcp: 3600, tcpFin: 30, udp: 0 });
    expect(t.timeouts()).toEqual({ tcp: 3600, tcpFin: 30, udp: 300 });
    ipvsIn(t, tcp('1.2.3.4:5', '10.96.0.10:80', 'S'), 0);
    const e = ipvsIn(t, tcp('1.2.3.4:5', '10.96.0.10:80', 'A'), 0);
    if (e.kind !== 'existing') throw new Error('no conn');
    expect(e.conn.expiresAt).toBe(3600 * S);
  });

  it('a service with no usable real server drops with ICMP port unreachable', () => {
    const t = new IpvsTable();
    t.addService(vs('10.96.0.10:80', 'rr', [rs('10.244.1.2:8080', 0)]));
    expect(ipvsIn(t, tcp('1.2.3.4:5', '10.96.0.10:80', 'S'), 0)).toMatchObject({
      kind: 'drop',
      icmpPortUnreachable: true,
    });
  });
});

describe('a large connection table', () => {
  it('finds every connection from both sides past its first hash buckets, on a Date.now()-sized clock, and expires them in order', () => {
    // 3,000 clients (more than the index's first 1,024 buckets, so the indexes grow), each a SYN,
    // then an ACK in and one out; then the timers, in the order of the last packets.
    const t = one();
    const t0 = 1_764_900_000_000;
    const clients: string[] = [];
    for (let i = 0; i < 3000; i++) {
      const c = `10.244.${(i >> 8) & 255}.${i & 255}:${40000 + (i % 7)}`;
      clients.push(c);
      const r = ipvsIn(t, tcp(c, '10.96.0.10:80', 'S'), t0 + i);
      if (r.kind !== 'scheduled') throw new Error(`client ${c}: ${r.kind}`);
      expect(r.conn.expiresAt).toBe(t0 + i + 60 * S);
    }
    expect(t.conns.size).toBe(3000);
    const wrong: string[] = [];
    clients.forEach((c, i) => {
      const fromClient = ipvsIn(t, tcp(c, '10.96.0.10:80', 'A'), t0 + 3000 + i);
      if (fromClient.kind !== 'existing' || fromClient.conn.id !== i + 1) wrong.push(`in ${c}`);
      else {
        const d = fromClient.destination;
        const back = ipvsOut(t, tcp(`${d.ip.text}:8080`, c, 'A'), t0 + 3000 + i);
        if (back.kind !== 'reply' || back.conn.id !== i + 1) wrong.push(`out ${c}`);
      }
    });
    expect(wrong).toEqual([]);
    // The ACK made each ESTABLISHED (900 s from its own time): none is due before the first's.
    expect(t.expire(t0 + 3000 + 900 * S - 1)).toEqual([]);
    const gone = t.expire(t0 + 3000 + 900 * S + 2999);
    expect(gone.map((c) => c.id)).toEqual(clients.map((_, i) => i + 1));
    expect(t.conns.size).toBe(0);
  });
});

describe('the connection hash table (ip_vs_conn_tab)', () => {
  it('answers every lookup as one list per client address and port, newest first, through growth and removals', () => {
    // The kernel hashes every entry once by protocol, client address and client port
    // (ip_vs_conn.c ip_vs_conn_hash, hlist_add_head_rcu) and each lookup returns the first match
    // along that chain: __ip_vs_conn_in_get (client and virtual address and port), ip_vs_conn_out_get
    // (real server and client), ip_vs_ct_in_get (templates). The reference below is the live entries
    // newest first, searched with those comparisons. Few addresses and ports, so the same key comes
    // back (a client port reused to the same real server through another service: two entries that
    // one reply matches), and thousands of entries, so the table doubles its buckets (from 1,024).
    const t = new IpvsTable();
    t.addService(vs('10.96.0.10:80', 'rr', [rs('10.244.1.2:8080'), rs('10.244.2.3:8080')]));
    const dests = [...[...t.services.values()][0]!.dests];
    const conns = t.conns;
    const rng = new SeededRng(11);
    const ips = ['10.0.0.1', '10.0.0.2', '10.96.0.10', '10.96.0.11', '10.244.1.2', '10.244.2.3'].map((x) =>
      parseIP(x),
    );
    const protos: IpvsProtocol[] = ['TCP', 'UDP'];
    const pick = <T>(xs: readonly T[]): T => xs[intBelow(rng, xs.length)]!;
    const port = () => pick([0, 80, 8080, 40000, 40001]);
    let live: IpvsConn[] = []; // newest first
    const misses = { in: 0, out: 0, tpl: 0 };
    const several = { in: 0, out: 0, tpl: 0 };
    for (let step = 0; step < 20_000; step++) {
      const op = intBelow(rng, 10);
      if (op < 3 || live.length < 50) {
        const template = intBelow(rng, 8) === 0;
        const d = pick(dests);
        const c = conns.create(
          pick(protos),
          pick(ips),
          template ? 0 : port() + intBelow(rng, 2000) * (step < 10_000 ? 1 : 0),
          pick(ips),
          port(),
          d,
          pick([0, d.port]),
          'TCP 10.96.0.10:80',
          template,
          false,
          false,
          step,
          1_000_000,
        );
        live.unshift(c);
      } else if (op < 5) {
        const c = pick(live);
        conns.remove(c);
        live = live.filter((x) => x !== c);
      } else {
        const p = pick(protos);
        const a = pick(ips);
        const ap = port();
        const b = pick(ips);
        const bp = port();
        const inMatch = (c: IpvsConn) =>
          !c.template &&
          c.protocol === p &&
          ipEquals(c.caddr, a) &&
          c.cport === ap &&
          ipEquals(c.vaddr, b) &&
          c.vport === bp;
        const outMatch = (c: IpvsConn) =>
          !c.template &&
          c.protocol === p &&
          ipEquals(c.daddr, a) &&
          c.dport === ap &&
          ipEquals(c.caddr, b) &&
          c.cport === bp;
        const tplMatch = (c: IpvsConn) =>
          c.template &&
          c.protocol === p &&
          ipEquals(c.caddr, a) &&
          c.cport === 0 &&
          ipEquals(c.vaddr, b) &&
          c.vport === bp;
        expect(conns.getIn(p, a, ap, b, bp)).toBe(live.find(inMatch));
        expect(conns.getOut(p, a, ap, b, bp)).toBe(live.find(outMatch));
        expect(conns.getTemplate(p, a, b, bp)).toBe(live.find(tplMatch));
        for (const [k, m] of [
          ['in', inMatch],
          ['out', outMatch],
          ['tpl', tplMatch],
        ] as const) {
          const n = live.filter(m).length;
          if (n === 0) misses[k]++;
          if (n > 1) several[k]++;
        }
      }
    }
    expect(conns.size).toBe(live.length);
    expect(live.length).toBeGreaterThan(1500);
    // Each lookup missed, and found one of several matching entries (the newest), many times.
    for (const k of ['in', 'out', 'tpl'] as const) {
      expect(misses[k]).toBeGreaterThan(500);
      expect(several[k]).toBeGreaterThan(100);
    }
  });
});

describe('lookups answered from the last answer', () => {
  it('a reply finds the newer of two connections through one real server after the client lookup found the older', () => {
    // One client port to two virtual services that share a real server: getIn for the first
    // service's address finds the older entry; the reply (ip_vs_conn_out_get) matches both and is
    // answered by the newer, as the chain lists it, not by what the last lookup found.
    const t = new IpvsTable();
    t.addService(vs('10.96.0.10:80', 'rr', [rs('10.244.1.2:8080')]));
    t.addService(vs('10.96.0.11:80', 'rr', [rs('10.244.1.2:8080')]));
    const c = '10.244.0.7:40000';
    const a = ipvsIn(t, tcp(c, '10.96.0.10:80', 'S'), 0);
    const b = ipvsIn(t, tcp(c, '10.96.0.11:80', 'S'), 1);
    if (a.kind !== 'scheduled' || b.kind !== 'scheduled') throw new Error('not scheduled');
    const again = ipvsIn(t, tcp(c, '10.96.0.10:80', 'A'), 2);
    expect(again.kind === 'existing' && again.conn.id).toBe(a.conn.id);
    const reply = ipvsOut(t, tcp('10.244.1.2:8080', c, 'SA'), 3);
    expect(reply.kind === 'reply' && reply.conn.id).toBe(b.conn.id);
    // And the other way round: a reply first, then the client lookup of the older service.
    const back = ipvsIn(t, tcp(c, '10.96.0.10:80', 'A'), 4);
    expect(back.kind === 'existing' && back.conn.id).toBe(a.conn.id);
    t.conns.remove(b.conn as IpvsConn);
    const older = ipvsOut(t, tcp('10.244.1.2:8080', c, 'A'), 5);
    expect(older.kind === 'reply' && older.conn.id).toBe(a.conn.id);
  });

  it('answers lookups repeated right after creates, lookups and removals as the newest-first list does', () => {
    // As the test above, with lookups mostly of keys just used (the memo's hits): a create, then
    // lookups of its keys and of keys near them, both kinds, in either order, between removals.
    const t = new IpvsTable();
    t.addService(vs('10.96.0.10:80', 'rr', [rs('10.244.1.2:8080'), rs('10.244.2.3:8080')]));
    const dests = [...[...t.services.values()][0]!.dests];
    const conns = t.conns;
    const rng = new SeededRng(23);
    const ips = ['10.0.0.1', '10.96.0.10', '10.96.0.11', '10.244.1.2'].map((x) => parseIP(x));
    const pick = <T>(xs: readonly T[]): T => xs[intBelow(rng, xs.length)]!;
    let live: IpvsConn[] = [];
    let hits = 0;
    const check = (
      p: IpvsProtocol,
      a: (typeof ips)[number],
      ap: number,
      b: (typeof ips)[number],
      bp: number,
    ) => {
      const inWant = live.find(
        (c) =>
          !c.template &&
          c.protocol === p &&
          ipEquals(c.caddr, a) &&
          c.cport === ap &&
          ipEquals(c.vaddr, b) &&
          c.vport === bp,
      );
      const outWant = live.find(
        (c) =>
          !c.template &&
          c.protocol === p &&
          ipEquals(c.daddr, a) &&
          c.dport === ap &&
          ipEquals(c.caddr, b) &&
          c.cport === bp,
      );
      expect(conns.getIn(p, a, ap, b, bp)).toBe(inWant);
      expect(conns.getOut(p, a, ap, b, bp)).toBe(outWant);
      if (inWant || outWant) hits++;
    };
    for (let step = 0; step < 6_000; step++) {
      const op = intBelow(rng, 10);
      if (op < 3 || live.length < 20) {
        const d = pick(dests);
        const c = conns.create(
          pick<IpvsProtocol>(['TCP', 'UDP']),
          pick(ips),
          pick([80, 8080, 40000]),
          pick(ips),
          pick([80, 8080]),
          d,
          d.port,
          'TCP 10.96.0.10:80',
          intBelow(rng, 10) === 0,
          false,
          false,
          step,
          1_000_000,
        );
        live.unshift(c);
      } else if (op < 4) {
        const c = pick(live);
        conns.remove(c);
        live = live.filter((x) => x !== c);
      } else {
        // Keys of a recent entry: its client side, its reply side, or a mix of the two.
        const c = live[intBelow(rng, Math.min(4, live.length))]!;
        const k = intBelow(rng, 3);
        if (k === 0) check(c.protocol, c.caddr, c.cport, c.vaddr, c.vport);
        else if (k === 1) check(c.protocol, c.daddr, c.dport, c.caddr, c.cport);
        else check(c.protocol, c.caddr, c.cport, pick(ips), pick([80, 8080]));
      }
    }
    expect(hits).toBeGreaterThan(2_000);
  });
});

describe('UDP', () => {
  it('one state, 300 s, counted inactive; replies refresh it', () => {
    const t = new IpvsTable();
    t.addService(vs('udp:10.96.0.10:53', 'rr', [rs('10.244.1.2:53')]));
    const r = ipvsIn(t, udp('10.244.0.7:5353', '10.96.0.10:53'), 0);
    if (r.kind !== 'scheduled') throw new Error('not scheduled');
    expect(r.conn.state).toBe('UDP');
    expect(r.conn.expiresAt).toBe(300 * S);
    expect([r.destination.activeConns, r.destination.inactConns]).toEqual([0, 1]);
    ipvsOut(t, udp('10.244.1.2:53', '10.244.0.7:5353'), 100 * S);
    expect(r.conn.expiresAt).toBe(400 * S);
    expect(r.destination.stats).toMatchObject({
      conns: 1,
      inpkts: 1,
      outpkts: 1,
      inbytes: 100,
      outbytes: 100,
    });
  });
});

describe('least connection schedulers see the open connections', () => {
  it('lc sends the next client to the server with fewer active connections', () => {
    const t = one('lc');
    // list: .2.3, .1.2. Both idle: the first in list order (.2.3).
    const a = ipvsIn(t, tcp('1.1.1.1:1', '10.96.0.10:80', 'S'), 0);
    expect(a.kind === 'scheduled' && a.destination.name).toBe('10.244.2.3:8080');
    // .2.3 has one active (SYN_RECV): overhead 256 vs 0 -> .1.2
    const b = ipvsIn(t, tcp('1.1.1.2:1', '10.96.0.10:80', 'S'), 0);
    expect(b.kind === 'scheduled' && b.destination.name).toBe('10.244.1.2:8080');
    // Close the first one (RST from the server -> CLOSE, inactive): .2.3 overhead 1 vs 256 -> .2.3
    ipvsOut(t, tcp('10.244.2.3:8080', '1.1.1.1:1', 'R'), 1 * S);
    const c = ipvsIn(t, tcp('1.1.1.3:1', '10.96.0.10:80', 'S'), 1 * S);
    expect(c.kind === 'scheduled' && c.destination.name).toBe('10.244.2.3:8080');
    if (c.kind === 'scheduled') expect(c.explanation.schedule).toMatchObject({ scheduler: 'lc' });
  });

  it('wlc weighs the counts: weight 3 takes 3 active connections before weight 1 gets a second', () => {
    const t = new IpvsTable();
    t.addService(vs('10.96.0.10:80', 'wlc', [rs('10.0.0.1:80', 1), rs('10.0.0.2:80', 3)]));
    const picks = Array.from({ length: 8 }, (_, i) => {
      const r = ipvsIn(t, tcp(`1.1.1.${i + 1}:1`, '10.96.0.10:80', 'S'), 0);
      return r.kind === 'scheduled' ? r.destination.name.slice(7, 8) : '-';
    });
    // List .2 (w 3), .1 (w 1); a SYN makes one active connection (overhead 256). The seed is .2, and
    // .1 replaces it when loh * 1 > doh * 3: overheads (.2, .1) before each pick: (0,0) -> .2;
    // (256,0) -> .1; (256,256) -> .2; (512,256) -> .2; (768,256) -> .2; (1024,256) -> .1
    // (1024 > 768); (1024,512) -> .2; (1280,512) -> .2. So 6 for .2, 2 for .1.
    expect(picks.filter((p) => p === '2').length).toBe(6);
    expect(picks.filter((p) => p === '1').length).toBe(2);
  });
});

describe('persistence (ClientIP affinity = ipvsadm -p)', () => {
  it('a template sends every connection of a client to one real server until it expires', () => {
    const t = one('rr', { persistence: { timeoutSeconds: 10800, netmaskBits: 32 } });
    const a = ipvsIn(t, tcp('10.244.0.7:40000', '10.96.0.10:80', 'S'), 0);
    const b = ipvsIn(t, tcp('10.244.0.7:40001', '10.96.0.10:80', 'S'), 1 * S);
    const c = ipvsIn(t, tcp('10.244.0.8:40000', '10.96.0.10:80', 'S'), 2 * S);
    if (a.kind !== 'scheduled' || b.kind !== 'scheduled' || c.kind !== 'scheduled') throw new Error('x');
    expect(b.destination).toBe(a.destination);
    expect(c.destination).not.toBe(a.destination); // rr moved on for the other client
    expect(a.explanation.persistence).toMatchObject({ template: 'new', timeoutSeconds: 10800 });
    expect(b.explanation.persistence).toMatchObject({ template: 'hit', expiresIn: 10800 });
    expect(b.explanation.schedule).toBeUndefined();
    expect(a.destination.persistConns).toBe(1);
    // The template lasts 10800 s from its last use (ip_vs_conn_put at 1 s).
    t.expire(10801 * S - 1);
    const tpl = t.conns.getTemplate('TCP', parseIP('10.244.0.7'), parseIP('10.96.0.10'), 80);
    expect(tpl?.nControl).toBe(0); // its connections (SYN_RECV, 60 s) are long gone
    t.expire(10801 * S);
    expect(t.conns.getTemplate('TCP', parseIP('10.244.0.7'), parseIP('10.96.0.10'), 80)).toBeUndefined();
  });

  it('a template still controlling a connection when its timer fires is re-armed for 60 s', () => {
    const t = one('rr', { persistence: { timeoutSeconds: 100, netmaskBits: 32 } });
    ipvsIn(t, tcp('1.1.1.1:1', '10.96.0.10:80', 'S'), 0);
    ipvsIn(t, tcp('1.1.1.1:1', '10.96.0.10:80', 'A'), 0); // ESTABLISHED, 900 s
    const tpl = t.conns.getTemplate('TCP', parseIP('1.1.1.1'), parseIP('10.96.0.10'), 80)!;
    expect(tpl.state).toBe('ASSURED');
    t.expire(100 * S);
    expect(tpl.expiresAt).toBe(160 * S);
    expect(tpl.timeoutMs).toBe(60 * S);
  });

  it('a netmask groups a client network; a quiesced server loses its template (expire_quiescent_template)', () => {
    const t = one('rr', { persistence: { timeoutSeconds: 300, netmaskBits: 24 } });
    t.setSysctls({ expireQuiescentTemplate: true });
    const a = ipvsIn(t, tcp('10.1.2.3:1', '10.96.0.10:80', 'S'), 0);
    const b = ipvsIn(t, tcp('10.1.2.99:1', '10.96.0.10:80', 'S'), 0);
    if (a.kind !== 'scheduled' || b.kind !== 'scheduled') throw new Error('x');
    expect(b.destination).toBe(a.destination);
    expect(b.explanation.persistence?.clientNet).toBe('10.1.2.0');
    const svc = [...t.services.values()][0]!;
    t.editDest(svc, a.destination, { ...rs(a.destination.name), weight: 0 });
    const c = ipvsIn(t, tcp('10.1.2.50:1', '10.96.0.10:80', 'S'), 1 * S);
    if (c.kind !== 'scheduled') throw new Error('x');
    expect(c.destination).not.toBe(a.destination);
    expect(c.explanation.persistence?.template).toBe('invalid');
  });
});

describe('real servers change under open connections', () => {
  it('a deleted real server stays in the trash while connections use it, and comes back with them', () => {
    const t = one();
    const r = ipvsIn(t, tcp('1.1.1.1:1', '10.96.0.10:80', 'S'), 0);
    if (r.kind !== 'scheduled') throw new Error('x');
    const svc = [...t.services.values()][0]!;
    t.sync([
      vs(
        '10.96.0.10:80',
        'rr',
        [rs('10.244.1.2:8080'), rs('10.244.2.3:8080')].filter(
          (d) => `${d.ip.text}:8080` !== r.destination.name,
        ),
      ),
    ]);
    expect(svc.dests.length).toBe(1);
    expect(t.trash.size).toBe(1);
    // kernel default expire_nodest_conn=0: the connection's packets are dropped until it times out.
    expect(ipvsIn(t, tcp('1.1.1.1:1', '10.96.0.10:80', 'A'), 1 * S).kind).toBe('drop');
    // re-added: the same dest object, counters kept, at the head of the list.
    t.sync([vs('10.96.0.10:80', 'rr', [rs('10.244.1.2:8080'), rs('10.244.2.3:8080')])]);
    expect(svc.dests[0]).toBe(r.destination);
    expect(r.destination.activeConns).toBe(1);
    expect(t.trash.size).toBe(0);
  });

  it('sync keeps untouched real servers and their scheduler state; weight changes edit in place', () => {
    const t = one();
    const svc = [...t.services.values()][0]!;
    ipvsIn(t, tcp('1.1.1.1:1', '10.96.0.10:80', 'S'), 0); // rr cursor on .2.3
    const before = [...svc.dests];
    t.sync([vs('10.96.0.10:80', 'rr', [rs('10.244.1.2:8080', 5), rs('10.244.2.3:8080')])]);
    expect(svc.dests).toEqual(before);
    expect(before[1]!.weight).toBe(5);
    const n = ipvsIn(t, tcp('1.1.1.2:1', '10.96.0.10:80', 'S'), 0);
    expect(n.kind === 'scheduled' && n.destination.name).toBe('10.244.1.2:8080');
    expect(dest(t, '10.244.2.3:8080').activeConns).toBe(1);
  });

  it('with expire_nodest_conn a packet of a removed server expires its connection and reschedules a SYN', () => {
    const t = one();
    t.setSysctls({ expireNodestConn: true });
    const r = ipvsIn(t, tcp('1.1.1.1:1', '10.96.0.10:80', 'S'), 0);
    if (r.kind !== 'scheduled') throw new Error('x');
    const svc = [...t.services.values()][0]!;
    t.deleteDest(svc, r.destination);
    const again = ipvsIn(t, tcp('1.1.1.1:1', '10.96.0.10:80', 'S'), 1 * S);
    expect(again.kind).toBe('scheduled');
    if (again.kind === 'scheduled') expect(again.destination).not.toBe(r.destination);
  });
});

describe('connection thresholds (ipvsadm -x / -y)', () => {
  it('a server at its upper threshold is overloaded until it drops below 3/4 of it', () => {
    const t = new IpvsTable();
    t.addService(vs('10.96.0.10:80', 'rr', [rs('10.0.0.1:80'), { ...rs('10.0.0.2:80'), upperThreshold: 2 }]));
    const d2 = dest(t, '10.0.0.2:80');
    // ip_vs_bind_dest: overloaded once active + inactive >= 2. rr list: .2, .1.
    const names = [1, 2, 3, 4].map((i) => {
      const r = ipvsIn(t, tcp(`1.1.1.${i}:1`, '10.96.0.10:80', 'S'), 0);
      return r.kind === 'scheduled' ? r.destination.name : '-';
    });
    expect(names).toEqual(['10.0.0.2:80', '10.0.0.1:80', '10.0.0.2:80', '10.0.0.1:80']);
    expect(d2.overloaded).toBe(true);
    const fifth = ipvsIn(t, tcp('1.1.1.5:1', '10.96.0.10:80', 'S'), 0);
    expect(fifth.kind === 'scheduled' && fifth.destination.name).toBe('10.0.0.1:80');
    // ip_vs_unbind_dest without a lower threshold: cleared when total * 4 < upper * 3, i.e. at 1.
    ipvsOut(t, tcp('10.0.0.2:80', '1.1.1.1:1', 'R'), 1000); // CLOSE, 10 s
    t.expire(11_000);
    expect(d2.totalConns).toBe(1);
    expect(d2.overloaded).toBe(false);
  });
});

describe('timers of connections removed before they are due', () => {
  it('client ports reused within a second keep the timer slots near the size of the table', () => {
    // 100 client ports, 12,000 whole connections 1 ms apart: each port comes back after 0.1 s, its
    // entry in TIME_WAIT, so conn_reuse_mode removes it for the new SYN, long before its 60 s
    // SYN_RECV slot is due. Those slots are released; once they are most of their queue they go.
    const t = one();
    let now = 1_764_900_000_000;
    let last = 0;
    for (let i = 0; i < 12_000; i++) {
      const c = `10.244.0.7:${40_000 + (i % 100)}`;
      const syn = ipvsIn(t, tcp(c, '10.96.0.10:80', 'S'), now);
      if (syn.kind !== 'scheduled') throw new Error(`connection ${i}: ${syn.kind}`);
      last = syn.conn.id;
      const rsv = `${syn.destination.ip.text}:8080`;
      ipvsOut(t, tcp(rsv, c, 'SA'), now);
      ipvsIn(t, tcp(c, '10.96.0.10:80', 'A'), now);
      ipvsIn(t, tcp(c, '10.96.0.10:80', 'FA'), now);
      ipvsOut(t, tcp(rsv, c, 'FA'), now);
      const ack = ipvsIn(t, tcp(c, '10.96.0.10:80', 'A'), now);
      if (ack.kind !== 'existing') throw new Error(`connection ${i}: ${ack.kind}`);
      expect(ack.conn.state).toBe('TIME_WAIT');
      now += 1;
    }
    expect(t.conns.size).toBe(100);
    // Without the squeeze: all 12,000 slots (none is due within the 12 s of clock).
    expect(t.conns.timerSlots).toBeLessThanOrEqual(2 * 100 + 1_024);
    const listed = t.conns.list();
    expect(listed.map((c) => c.id)).toEqual(Array.from({ length: 100 }, (_, k) => last - 99 + k));
    // They expire 120 s after their last packet, all of them, and nothing else is left.
    ipvsIn(t, tcp('10.244.0.8:1', '10.96.0.10:80', 'A'), now + 120 * S);
    expect(t.conns.size).toBe(0);
    expect(t.conns.timerSlots).toBe(0);
  });
});
