import { describe, expect, it } from 'vitest';
import { ManualClock } from '../../netmodel/clock.js';
import {
  conntrackJson,
  formatConntrackLine,
  type LiveConnection,
  LiveConntrack,
} from '../../proxy/runtime/conntrack.js';

function opened(t: LiveConntrack, sport: number, protocol: 'tcp' | 'udp' = 'tcp'): LiveConnection {
  const c = t.open({
    protocol,
    original: { src: '10.244.0.5', sport, dst: '10.96.0.10', dport: 80 },
    state: protocol === 'tcp' ? 'SYN_SENT' : 'UNREPLIED',
    service: 'default/web:http',
    entryNode: 'node-a',
    mode: 'iptables',
  });
  c.reply = { src: '10.244.1.7', sport: 8080, dst: '10.244.0.5', dport: sport };
  return c;
}

describe('LiveConntrack: ended entries age out', () => {
  it('keeps TIME_WAIT 120 s and CLOSE 10 s after the end, then forgets them', () => {
    const clock = new ManualClock(0);
    const t = new LiveConntrack(clock);
    const fin = opened(t, 1000);
    const rst = opened(t, 1001);
    const live = opened(t, 1002);
    t.close(fin);
    rst.state = 'CLOSE';
    t.close(rst);
    expect(t.size).toBe(1);
    expect(t.listAll().map((c) => [c.original.sport, c.state])).toEqual([
      [1002, 'SYN_SENT'],
      [1000, 'TIME_WAIT'],
      [1001, 'CLOSE'],
    ]);
    clock.advance(10_000);
    expect(t.listAll().map((c) => c.original.sport)).toEqual([1002, 1000]);
    clock.advance(110_000);
    expect(t.listAll().map((c) => c.original.sport)).toEqual([1002]);
    t.close(live);
    expect(t.listAll().map((c) => c.original.sport)).toEqual([1002]);
  });

  it('holds at most maxClosed ended entries, dropping the oldest first', () => {
    const clock = new ManualClock(0);
    const t = new LiveConntrack(clock, 4);
    for (let p = 0; p < 10; p++) {
      const c = opened(t, 2000 + p);
      clock.advance(1);
      t.close(c);
    }
    expect(t.listAll().map((c) => c.original.sport)).toEqual([2006, 2007, 2008, 2009]);
    // The ring keeps working past its wrap-around, and expiry still frees from the head.
    clock.advance(120_000);
    expect(t.listAll()).toEqual([]);
    const c = opened(t, 3000);
    t.close(c);
    expect(t.listAll().map((x) => x.original.sport)).toEqual([3000]);
  });

  it('an ended entry lists with every field it had; the ring keeps its order while it grows past a wrap-around', () => {
    const clock = new ManualClock(0);
    const t = new LiveConntrack(clock, 5000);
    const ended = (sport: number) => {
      const c = opened(t, sport);
      c.endpoint = '10.244.1.7:8080';
      c.state = sport % 7 === 0 ? 'CLOSE' : 'ESTABLISHED';
      c.orig.packets = sport % 13;
      c.orig.bytes = sport * 3;
      c.repl.packets = sport % 11;
      c.repl.bytes = sport * 5 + 0.5 * 2 ** 40;
      clock.advance(10);
      t.close(c);
      return { ...c, orig: { ...c.orig }, repl: { ...c.repl } };
    };
    // Ageing as the kernel's entries age (nf_conntrack_proto_tcp.c: TIME_WAIT 120 s, CLOSE 10 s).
    const alive = (cs: ReturnType<typeof ended>[]) =>
      cs.filter((c) => (c.state === 'CLOSE' ? 10 : 120) - Math.floor((clock.now() - c.lastSeen) / 1000) > 0);
    const want: ReturnType<typeof ended>[] = [];
    for (let p = 0; p < 1000; p++) want.push(ended(10_000 + p));
    // The first entries' TIME_WAIT runs out: the ring's head moves on.
    clock.advance(113_000);
    const left = alive(want);
    expect(left.length).toBeGreaterThan(0);
    expect(left.length).toBeLessThan(1000);
    expect(t.listAll()).toEqual(left);
    // More than the ring's first capacity (1024) from a head that is not at the start.
    for (let p = 0; p < 1500; p++) want.push(ended(20_000 + p));
    const listed = t.listAll();
    expect(listed.map((c) => c.original.sport)).toEqual(alive(want).map((c) => c.original.sport));
    expect(listed).toEqual(alive(want));
    expect(listed.every((c) => c.sources === undefined && c.state !== 'ESTABLISHED')).toBe(true);
  });

  it('forgets a TCP connection that was never forwarded at once, as an unconfirmed entry', () => {
    const t = new LiveConntrack(new ManualClock(0));
    const c = t.open({
      protocol: 'tcp',
      original: { src: '10.244.0.5', sport: 4000, dst: '10.96.0.10', dport: 80 },
      state: 'SYN_SENT',
      service: 'default/web:http',
      entryNode: 'node-a',
      mode: 'iptables',
    });
    t.close(c);
    expect(t.listAll()).toEqual([]);
  });
});

describe('formatConntrackLine: conntrack -L, with and without accounting', () => {
  // Expected lines: conntrack-tools 1.4.7 (libnetfilter_conntrack src/conntrack/snprintf_default.c,
  // __snprintf_conntrack_default): tuple, its counters only when the entry has the acct extension
  // (net.netfilter.nf_conntrack_acct=1), [UNREPLIED] before the reply tuple, [ASSURED] after it.
  const listed = (acct: boolean, forwarded = true) => {
    const clock = new ManualClock(0);
    const t = new LiveConntrack(clock, undefined, acct);
    const c = opened(t, 40000);
    if (!forwarded) c.reply = undefined;
    else c.state = 'ESTABLISHED';
    c.orig.packets = 4;
    c.orig.bytes = 221;
    c.repl.packets = 3;
    c.repl.bytes = 169;
    return formatConntrackLine(conntrackJson(c, 0, t.acct));
  };

  it('prints no packets= or bytes= with accounting off (Linux default)', () => {
    expect(listed(false)).toBe(
      'tcp      6 432000 ESTABLISHED src=10.244.0.5 dst=10.96.0.10 sport=40000 dport=80 src=10.244.1.7 dst=10.244.0.5 sport=8080 dport=40000 [ASSURED] mark=0 use=1',
    );
  });

  it('prints each direction counters after its tuple with accounting on', () => {
    expect(listed(true)).toBe(
      'tcp      6 432000 ESTABLISHED src=10.244.0.5 dst=10.96.0.10 sport=40000 dport=80 packets=4 bytes=221 src=10.244.1.7 dst=10.244.0.5 sport=8080 dport=40000 packets=3 bytes=169 [ASSURED] mark=0 use=1',
    );
  });

  it('puts [UNREPLIED] between the original counters and the reply tuple before the endpoint answered', () => {
    expect(listed(true, false)).toBe(
      'tcp      6 120 SYN_SENT src=10.244.0.5 dst=10.96.0.10 sport=40000 dport=80 packets=4 bytes=221 [UNREPLIED] src=10.96.0.10 dst=10.244.0.5 sport=80 dport=40000 packets=0 bytes=0 mark=0 use=1',
    );
    expect(listed(false, false)).toBe(
      'tcp      6 120 SYN_SENT src=10.244.0.5 dst=10.96.0.10 sport=40000 dport=80 [UNREPLIED] src=10.96.0.10 dst=10.244.0.5 sport=80 dport=40000 mark=0 use=1',
    );
  });

  it('JSON carries packets only with accounting on; bytes always', () => {
    const clock = new ManualClock(0);
    for (const acct of [false, true]) {
      const t = new LiveConntrack(clock, undefined, acct);
      const c = opened(t, 40001);
      c.orig.packets = 2;
      c.orig.bytes = 10;
      const j = conntrackJson(c, 0, t.acct);
      expect(j.original).toEqual({
        src: '10.244.0.5',
        dst: '10.96.0.10',
        sport: 40001,
        dport: 80,
        ...(acct ? { packets: 2 } : {}),
        bytes: 10,
      });
    }
  });
});
