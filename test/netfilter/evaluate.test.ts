import { describe, expect, it } from 'vitest';
import { parseIP, parsePrefix } from '../../netmodel/addr.js';
import type {
  BuiltinChain,
  CtView,
  EvalContext,
  Ruleset,
  TableName,
} from '../../netmodel/netfilter/index.js';
import { CtStatus, evaluate, HOOK_ORDER, NF_IP_PRI, xmark } from '../../netmodel/netfilter/index.js';
import { ACK, RST } from '../../netmodel/packet.js';
import { SeededRng } from '../../netmodel/rng.js';
import { ctx, icmp, newState, rules, tcp, udp } from './builders.js';

function verdictOf(
  rs: Ruleset,
  table: TableName,
  chain: BuiltinChain,
  p = tcp('10.0.0.1:1000', '10.96.0.1:80'),
  c: EvalContext = ctx(),
) {
  return evaluate(rs, table, chain, p, c);
}

/** One rule `spec -j ACCEPT` in filter FORWARD with policy DROP: does the packet match? */
function matches(spec: string, p = tcp('10.0.0.1:1000', '10.96.0.1:80'), c: EvalContext = ctx()): boolean {
  const rs = rules('filter', [], [':FORWARD DROP [0:0]', `-A FORWARD ${spec} -j ACCEPT`]);
  return evaluate(rs, 'filter', 'FORWARD', p, c).verdict.kind === 'ACCEPT';
}

describe('header matches', () => {
  it('-s/-d with prefixes and !', () => {
    expect(matches('-s 10.0.0.0/8')).toBe(true);
    expect(matches('-s 10.0.0.2')).toBe(false);
    expect(matches('! -s 10.0.0.2')).toBe(true);
    expect(matches('-d 10.96.0.1')).toBe(true);
    expect(matches('! -d 10.96.0.0/12')).toBe(false);
  });
  it('-i/-o with + wildcards and !', () => {
    const p = tcp('10.0.0.1:1', '10.0.0.2:2', { iif: 'veth12', oif: 'eth0' });
    expect(matches('-i veth+', p)).toBe(true);
    expect(matches('-i veth1', p)).toBe(false);
    expect(matches('! -i cni0', p)).toBe(true);
    expect(matches('-o eth0', p)).toBe(true);
    expect(matches('! -o eth+', p)).toBe(false);
  });
  it('-p with names, numbers and !', () => {
    expect(matches('-p tcp')).toBe(true);
    expect(matches('-p 6')).toBe(true);
    expect(matches('-p udp')).toBe(false);
    expect(matches('! -p udp')).toBe(true);
    expect(matches('-p all')).toBe(true);
    expect(matches('-p icmp', icmp('10.0.0.1', '10.0.0.2'))).toBe(true);
  });
});

describe('extension matches', () => {
  it('tcp/udp ports, ranges, ! and flags', () => {
    expect(matches('-p tcp --dport 80')).toBe(true);
    expect(matches('-p tcp -m tcp --dport 81')).toBe(false);
    expect(matches('-p tcp --dport 1:1023')).toBe(true);
    expect(matches('-p tcp ! --dport 1:1023')).toBe(false);
    expect(matches('-p tcp --sport 1000')).toBe(true);
    expect(matches('-p tcp --syn')).toBe(true);
    expect(matches('-p tcp --syn', tcp('1.1.1.1:1', '2.2.2.2:2', { flags: ACK }))).toBe(false);
    expect(matches('-p tcp --tcp-flags RST RST', tcp('1.1.1.1:1', '2.2.2.2:2', { flags: RST }))).toBe(true);
    expect(matches('-p udp --dport 53', udp('1.1.1.1:5', '2.2.2.2:53'))).toBe(true);
    expect(matches('-p udp --dport 54', udp('1.1.1.1:5', '2.2.2.2:53'))).toBe(false);
  });
  it('icmp types', () => {
    expect(matches('-p icmp --icmp-type echo-request', icmp('1.1.1.1', '2.2.2.2', 8))).toBe(true);
    expect(matches('-p icmp --icmp-type 3/3', icmp('1.1.1.1', '2.2.2.2', 3, 3))).toBe(true);
    expect(matches('-p icmp --icmp-type 3/3', icmp('1.1.1.1', '2.2.2.2', 3, 1))).toBe(false);
  });
  it('multiport lists and ranges', () => {
    expect(matches('-p tcp -m multiport --dports 443,80')).toBe(true);
    expect(matches('-p tcp -m multiport --dports 70:79,81')).toBe(false);
    expect(matches('-p tcp -m multiport --ports 1000')).toBe(true);
    expect(matches('-p tcp -m multiport ! --sports 1000')).toBe(false);
  });
  it('comment never affects matching', () => {
    expect(matches('-m comment --comment "a b"')).toBe(true);
  });
  it('mark value/mask and !', () => {
    const p = tcp('1.1.1.1:1', '2.2.2.2:2', { mark: 0x4001 });
    expect(matches('-m mark --mark 0x4000/0x4000', p)).toBe(true);
    expect(matches('-m mark --mark 0x4000', p)).toBe(false);
    expect(matches('-m mark ! --mark 0x4000/0x4000', p)).toBe(false);
  });
  it('connmark', () => {
    const c = ctx({ ct: { state: 'ESTABLISHED', mark: 5 } });
    expect(matches('-m connmark --mark 5', undefined, c)).toBe(true);
    expect(matches('-m connmark --mark 4/4', undefined, c)).toBe(true);
    expect(matches('-m connmark ! --mark 5', undefined, c)).toBe(false);
  });
  it('conntrack state, status, tuples; state', () => {
    const est: CtView = {
      state: 'ESTABLISHED',
      status: CtStatus.SEEN_REPLY | CtStatus.ASSURED | CtStatus.DST_NAT,
      orig: { proto: 'tcp', src: parseIP('10.0.0.1'), dst: parseIP('10.96.0.1'), sport: 1000, dport: 80 },
      reply: { proto: 'tcp', src: parseIP('10.244.1.5'), dst: parseIP('10.0.0.1'), sport: 8080, dport: 1000 },
    };
    const c = ctx({ ct: est });
    expect(matches('-m conntrack --ctstate RELATED,ESTABLISHED', undefined, c)).toBe(true);
    expect(matches('-m conntrack --ctstate NEW', undefined, c)).toBe(false);
    expect(matches('-m conntrack --ctstate DNAT', undefined, c)).toBe(true);
    expect(matches('-m conntrack ! --ctstate RELATED,ESTABLISHED,DNAT', undefined, c)).toBe(false);
    expect(matches('-m conntrack --ctstatus ASSURED', undefined, c)).toBe(true);
    expect(matches('-m conntrack --ctstatus EXPECTED', undefined, c)).toBe(false);
    expect(matches('-m conntrack --ctorigdst 10.96.0.1 --ctorigdstport 80', undefined, c)).toBe(true);
    expect(matches('-m conntrack --ctrepldst 10.0.0.0/8 --ctreplsrcport 8081', undefined, c)).toBe(false);
    expect(matches('-m conntrack --ctproto tcp --ctdir ORIGINAL', undefined, c)).toBe(true);
    expect(matches('-m conntrack --ctstate INVALID', undefined, ctx({ ct: undefined }))).toBe(true);
    expect(matches('-m conntrack --ctstate UNTRACKED', undefined, ctx({ ct: { state: 'UNTRACKED' } }))).toBe(
      true,
    );
    expect(matches('-m state --state NEW')).toBe(true);
    expect(matches('-m state ! --state NEW')).toBe(false);
  });
  it('addrtype with a node-supplied lookup and !', () => {
    const c = ctx({ addrType: (ip) => (ip.text === '10.96.0.1' ? 'LOCAL' : 'UNICAST') });
    expect(matches('-m addrtype --dst-type LOCAL', undefined, c)).toBe(true);
    expect(matches('-m addrtype --src-type LOCAL', undefined, c)).toBe(false);
    expect(matches('-m addrtype ! --src-type LOCAL', undefined, c)).toBe(true);
    let seen: string | undefined;
    const c2 = ctx({
      addrType: (_ip, dev) => {
        seen = dev;
        return 'LOCAL';
      },
    });
    expect(
      matches(
        '-m addrtype --dst-type LOCAL --limit-iface-in',
        tcp('1.1.1.1:1', '2.2.2.2:2', { iif: 'eth0' }),
        c2,
      ),
    ).toBe(true);
    expect(seen).toBe('eth0');
    expect(matches('-m addrtype --dst-type BROADCAST', tcp('1.1.1.1:1', '255.255.255.255:2'))).toBe(true);
  });
  it('physdev on bridged and non-bridged packets', () => {
    const br = ctx({ physdev: { in: 'veth1', out: 'veth2' } });
    expect(matches('-m physdev --physdev-is-bridged', undefined, br)).toBe(true);
    expect(matches('-m physdev --physdev-in veth+ --physdev-out veth2', undefined, br)).toBe(true);
    expect(matches('-m physdev --physdev-in eth0', undefined, br)).toBe(false);
    expect(matches('-m physdev --physdev-is-bridged')).toBe(false);
    expect(matches('-m physdev ! --physdev-is-in')).toBe(true);
  });
  it('set match against the emulated ipset store', () => {
    const c = ctx();
    c.state.sets.create('KUBE-CLUSTER-IP', 'hash:ip,port');
    c.state.sets.add('KUBE-CLUSTER-IP', { ip: parseIP('10.96.0.1'), proto: 6, port: 80 });
    c.state.sets.create('KUBE-LOOP-BACK', 'hash:ip,port,ip');
    c.state.sets.add('KUBE-LOOP-BACK', {
      ip: parseIP('10.96.0.1'),
      proto: 6,
      port: 80,
      ip2: parseIP('10.0.0.1'),
    });
    c.state.sets.create('SRC-CIDR', 'hash:ip,port,net');
    c.state.sets.add('SRC-CIDR', {
      ip: parseIP('10.96.0.1'),
      proto: 6,
      port: 80,
      net: parsePrefix('10.0.0.0/24'),
    });
    c.state.sets.create('NETS', 'hash:net');
    c.state.sets.add('NETS', { net: parsePrefix('10.0.0.0/8') });
    c.state.sets.create('IPS', 'hash:ip');
    c.state.sets.add('IPS', { ip: parseIP('10.0.0.1') });
    c.state.sets.create('NP', 'bitmap:port');
    c.state.sets.add('NP', { port: 80 });
    expect(matches('-m set --match-set KUBE-CLUSTER-IP dst,dst', undefined, c)).toBe(true);
    expect(matches('-m set --match-set KUBE-CLUSTER-IP src,dst', undefined, c)).toBe(false);
    expect(matches('-m set --match-set KUBE-LOOP-BACK dst,dst,src', undefined, c)).toBe(true);
    expect(matches('-m set --match-set SRC-CIDR dst,dst,src', undefined, c)).toBe(true);
    expect(matches('-m set ! --match-set NETS src', undefined, c)).toBe(false);
    expect(matches('-m set --match-set IPS src', undefined, c)).toBe(true);
    expect(matches('-m set --match-set NP dst', undefined, c)).toBe(true);
    expect(matches('-m set --match-set NP src', undefined, c)).toBe(false);
    expect(matches('-m set --match-set MISSING dst', undefined, c)).toBe(false);
  });
  it('nfacct counts and always matches', () => {
    const c = ctx();
    expect(matches('-m nfacct --nfacct-name acct1', tcp('1.1.1.1:1', '2.2.2.2:2', { length: 100 }), c)).toBe(
      true,
    );
    expect(c.state.nfacct.get('acct1')).toEqual({ packets: 1, bytes: 100 });
  });
});

describe('statistic', () => {
  it('random: the kernel comparison on the 31-bit fixed point, chi-square bound over 3 endpoints', () => {
    const rs = rules(
      'nat',
      ['SVC', 'A', 'B', 'C'],
      [
        '-A PREROUTING -j SVC',
        '-A SVC -m statistic --mode random --probability 0.3333333333 -j A',
        '-A SVC -m statistic --mode random --probability 0.5000000000 -j B',
        '-A SVC -j C',
        '-A A -p tcp -j DNAT --to-destination 10.0.0.1:80',
        '-A B -p tcp -j DNAT --to-destination 10.0.0.2:80',
        '-A C -p tcp -j DNAT --to-destination 10.0.0.3:80',
      ],
    );
    const c = ctx({ rng: new SeededRng(42) });
    const counts = new Map<string, number>();
    const n = 30000;
    for (let i = 0; i < n; i++) {
      const r = evaluate(rs, 'nat', 'PREROUTING', tcp('10.1.0.1:1000', '10.96.0.1:80'), c);
      const ip = r.nat?.kind === 'DNAT' ? r.nat.ip!.text : 'none';
      counts.set(ip, (counts.get(ip) ?? 0) + 1);
    }
    const expected = n / 3;
    let chi = 0;
    for (const ip of ['10.0.0.1', '10.0.0.2', '10.0.0.3'])
      chi += ((counts.get(ip) ?? 0) - expected) ** 2 / expected;
    expect(chi).toBeLessThan(13.8); // 2 degrees of freedom, p = 0.001
    const again = ctx({ rng: new SeededRng(42) });
    const first = evaluate(rs, 'nat', 'PREROUTING', tcp('10.1.0.1:1000', '10.96.0.1:80'), again);
    const c3 = ctx({ rng: new SeededRng(42) });
    expect(evaluate(rs, 'nat', 'PREROUTING', tcp('10.1.0.1:1000', '10.96.0.1:80'), c3).nat).toEqual(
      first.nat,
    );
  });
  it('random: probability 1 always, 0 never, ! inverts', () => {
    expect(matches('-m statistic --mode random --probability 1')).toBe(true);
    expect(matches('-m statistic --mode random --probability 0')).toBe(false);
    expect(matches('-m statistic --mode random ! --probability 0')).toBe(true);
  });
  it('random: compares (uint32 & 0x7FFFFFFF) < stored', () => {
    const fixed = (v: number) => ({ uint32: () => v });
    const spec = '-m statistic --mode random --probability 0.5';
    expect(matches(spec, undefined, ctx({ rng: fixed(0x3fffffff) }))).toBe(true);
    expect(matches(spec, undefined, ctx({ rng: fixed(0x40000000) }))).toBe(false);
    expect(matches(spec, undefined, ctx({ rng: fixed(0xbfffffff) }))).toBe(true); // top bit ignored
  });
  it('nth: every 3 packet 0 matches the 1st, 4th, 7th ... packet (kernel counter)', () => {
    const rs = rules(
      'filter',
      [],
      [':FORWARD DROP [0:0]', '-A FORWARD -m statistic --mode nth --every 3 --packet 0 -j ACCEPT'],
    );
    const c = ctx();
    const got = Array.from(
      { length: 7 },
      () => evaluate(rs, 'filter', 'FORWARD', tcp('1.1.1.1:1', '2.2.2.2:2'), c).verdict.kind,
    );
    // Checked against Linux 6.18 / iptables 1.8.9 by test/kernel-diff: libxt_statistic loads
    // count = every - 1 - packet, so packet 0 is the first packet.
    expect(got).toEqual(['ACCEPT', 'DROP', 'DROP', 'ACCEPT', 'DROP', 'DROP', 'ACCEPT']);
  });
});

describe('recent (session affinity)', () => {
  const rs = rules(
    'nat',
    ['SVC', 'SEP1', 'SEP2'],
    [
      '-A PREROUTING -j SVC',
      '-A SVC -m recent --name SEP1 --rcheck --seconds 10 --reap -j SEP1',
      '-A SVC -m recent --name SEP2 --rcheck --seconds 10 --reap -j SEP2',
      '-A SVC -m statistic --mode random --probability 0.5 -j SEP1',
      '-A SVC -j SEP2',
      '-A SEP1 -m recent --name SEP1 --set -p tcp -j DNAT --to-destination 10.244.1.1:80',
      '-A SEP2 -m recent --name SEP2 --set -p tcp -j DNAT --to-destination 10.244.1.2:80',
    ],
  );
  it('set then rcheck within --seconds keeps the endpoint; after expiry it is reaped', () => {
    const state = newState();
    const rng = new SeededRng(7);
    const at = (now: number, src = '10.0.0.9:1000') =>
      evaluate(rs, 'nat', 'PREROUTING', tcp(src, '10.96.0.1:80'), { now, rng, state, ct: { state: 'NEW' } })
        .nat;
    const first = at(0);
    const ep = first?.kind === 'DNAT' ? first.ip!.text : '';
    for (let t = 1000; t <= 9000; t += 1000) {
      const r = at(t);
      expect(r?.kind === 'DNAT' ? r.ip!.text : '').toBe(ep);
    }
    // Last --set at 9000 (every connection refreshes it): 19001 is past the 10 s window.
    at(19_001);
    const list = state.recent.list(ep === '10.244.1.1' ? 'SEP1' : 'SEP2').list();
    expect(list.length).toBe(1);
    expect(list[0]!.stamps[list[0]!.stamps.length - 1]).toBe(19_001);
  });
  it('rcheck misses for an unknown source, hitcount and update semantics', () => {
    const c = ctx();
    expect(matches('-m recent --name X --rcheck', undefined, c)).toBe(false);
    expect(matches('-m recent --name X --set', undefined, c)).toBe(true);
    expect(matches('-m recent --name X --rcheck', undefined, c)).toBe(true);
    expect(matches('-m recent --name X --rcheck --hitcount 2', undefined, c)).toBe(false);
    expect(matches('-m recent --name X --update', undefined, c)).toBe(true);
    expect(matches('-m recent --name X --rcheck --hitcount 2', undefined, c)).toBe(true);
    expect(matches('-m recent --name X --remove', undefined, c)).toBe(true);
    expect(matches('-m recent --name X ! --rcheck', undefined, c)).toBe(true);
    expect(matches('-m recent --name X --rdest --set', undefined, c)).toBe(true);
    expect(
      c.state.recent
        .list('X')
        .list()
        .map((e) => e.addr),
    ).toEqual([String(parseIP('10.96.0.1').family === 4 ? (parseIP('10.96.0.1') as { n: number }).n : 0)]);
  });
  it('evicts the least recently updated address beyond ip_list_tot', () => {
    const c = ctx();
    for (let i = 0; i < 101; i++)
      matches('-m recent --name L --set', tcp(`10.0.${i >> 8}.${i & 255}:1`, '1.1.1.1:1'), c);
    expect(c.state.recent.list('L').list().length).toBe(100);
    expect(matches('-m recent --name L --rcheck', tcp('10.0.0.0:1', '1.1.1.1:1'), c)).toBe(false);
  });
});

describe('targets', () => {
  it('MARK arithmetic: (mark & ~mask) ^ value for every spelling', () => {
    expect(xmark(0x1, 0x4000, 0x4000)).toBe(0x4001);
    const run = (spec: string, mark: number) =>
      evaluate(
        rules('mangle', [], [`-A PREROUTING -j MARK ${spec}`]),
        'mangle',
        'PREROUTING',
        tcp('1.1.1.1:1', '2.2.2.2:2', { mark }),
        ctx(),
      ).packet.mark;
    expect(run('--or-mark 0x4000', 0x1)).toBe(0x4001);
    expect(run('--xor-mark 0x4000', 0x4001)).toBe(0x1);
    expect(run('--and-mark 0xff', 0x4f0f)).toBe(0x0f);
    expect(run('--set-mark 0x10', 0xffff)).toBe(0x10);
    expect(run('--set-mark 0x100/0xff', 0xfff)).toBe(0xf00); // mask becomes 0x1ff, as iptables-save shows
    expect(run('--set-xmark 0x1/0x3', 0x6)).toBe(0x5);
  });
  it('CONNMARK set/save/restore with masks', () => {
    const ct: CtView = { state: 'ESTABLISHED', mark: 0xf0 };
    const rs = rules(
      'mangle',
      [],
      ['-A PREROUTING -j CONNMARK --save-mark --mask 0xf', '-A PREROUTING -j ACCEPT'],
    );
    const r = evaluate(rs, 'mangle', 'PREROUTING', tcp('1.1.1.1:1', '2.2.2.2:2', { mark: 0x5 }), ctx({ ct }));
    expect(r.ctMark).toBe(0xf5);
    const rs2 = rules('mangle', [], ['-A PREROUTING -j CONNMARK --restore-mark --nfmask 0xff --ctmask 0x30']);
    expect(
      evaluate(rs2, 'mangle', 'PREROUTING', tcp('1.1.1.1:1', '2.2.2.2:2', { mark: 0x10f }), ctx({ ct }))
        .packet.mark,
    ).toBe(0x130);
    const rs3 = rules(
      'mangle',
      [],
      ['-A PREROUTING -j CONNMARK --set-mark 0x1/0x1', '-A PREROUTING -m connmark --mark 0xf1 -j DROP'],
    );
    const r3 = evaluate(rs3, 'mangle', 'PREROUTING', tcp('1.1.1.1:1', '2.2.2.2:2'), ctx({ ct }));
    expect(r3.ctMark).toBe(0xf1);
    expect(r3.verdict.kind).toBe('DROP');
  });
  it('REJECT with its type; DROP; ACCEPT; LOG continues and records the prefix', () => {
    const rs = rules(
      'filter',
      [],
      [
        '-A INPUT -j LOG --log-prefix "in: "',
        '-A INPUT -p tcp --dport 81 -j REJECT --reject-with tcp-reset',
        '-A INPUT -p tcp -j REJECT',
      ],
    );
    const r = verdictOf(rs, 'filter', 'INPUT');
    expect(r.verdict).toEqual({ kind: 'REJECT', with: 'icmp-port-unreachable' });
    expect(r.logs[0]!.prefix).toBe('in: ');
    expect(r.logs[0]!.text).toMatch(
      /^in: IN= OUT= SRC=10\.0\.0\.1 DST=10\.96\.0\.1 .*PROTO=TCP SPT=1000 DPT=80/,
    );
    expect(verdictOf(rs, 'filter', 'INPUT', tcp('1.1.1.1:1', '2.2.2.2:81')).verdict).toEqual({
      kind: 'REJECT',
      with: 'tcp-reset',
    });
  });
  it('DNAT/SNAT/MASQUERADE/REDIRECT return NAT requests; ranges chosen from the Rng', () => {
    const rs = rules(
      'nat',
      [],
      [
        '-A PREROUTING -p tcp --dport 80 -j DNAT --to-destination 10.244.1.5:8080',
        '-A PREROUTING -p tcp --dport 81 -j DNAT --to-destination 10.244.1.5-10.244.1.9:9000-9010',
        '-A PREROUTING -p tcp --dport 82 -j REDIRECT --to-ports 15001',
        '-A POSTROUTING -p tcp --dport 80 -j MASQUERADE --random-fully',
        '-A POSTROUTING -j SNAT --to-source 1.2.3.4 --persistent',
      ],
    );
    expect(verdictOf(rs, 'nat', 'PREROUTING').nat).toEqual({
      kind: 'DNAT',
      ip: parseIP('10.244.1.5'),
      port: 8080,
      random: false,
      randomFully: false,
      persistent: false,
    });
    const r = verdictOf(rs, 'nat', 'PREROUTING', tcp('1.1.1.1:1', '2.2.2.2:81'));
    expect(r.nat?.kind).toBe('DNAT');
    if (r.nat?.kind === 'DNAT') {
      expect(r.nat.ip!.family === 4 && r.nat.ip!.n >= parseIP('10.244.1.5').family).toBe(true);
      expect(r.nat.port! >= 9000 && r.nat.port! <= 9010).toBe(true);
    }
    expect(verdictOf(rs, 'nat', 'PREROUTING', tcp('1.1.1.1:1', '2.2.2.2:82')).nat).toEqual({
      kind: 'REDIRECT',
      port: 15001,
      random: false,
    });
    expect(verdictOf(rs, 'nat', 'POSTROUTING').nat).toEqual({
      kind: 'MASQUERADE',
      random: false,
      randomFully: true,
    });
    expect(verdictOf(rs, 'nat', 'POSTROUTING', udp('1.1.1.1:1', '2.2.2.2:2')).nat).toMatchObject({
      kind: 'SNAT',
      persistent: true,
    });
  });
  it('NOTRACK and CT --notrack continue the chain', () => {
    const rs = rules(
      'raw',
      [],
      ['-A PREROUTING -p udp -j NOTRACK', '-A PREROUTING -p tcp -j CT --notrack', '-A PREROUTING -j DROP'],
    );
    const r = verdictOf(rs, 'raw', 'PREROUTING');
    expect(r.notrack).toBe(true);
    expect(r.verdict.kind).toBe('DROP');
  });
});

describe('chains: jump, goto, RETURN, policies, counters', () => {
  it('policy on fall-through; implicit RETURN at the end of a user chain', () => {
    const rs = rules('filter', ['A'], [':INPUT DROP [0:0]', '-A INPUT -j A', '-A A -p udp -j ACCEPT']);
    const r = verdictOf(rs, 'filter', 'INPUT', tcp('1.1.1.1:1', '2.2.2.2:2'), ctx({ trace: true }));
    expect(r.verdict.kind).toBe('DROP');
    expect(r.byPolicy).toBe(true);
    expect(r.trace.map((e) => e.kind)).toEqual(['chain', 'rule', 'chain', 'return', 'policy']);
  });
  it('RETURN in a built-in chain applies the policy', () => {
    const rs = rules('filter', [], [':FORWARD DROP [0:0]', '-A FORWARD -j RETURN', '-A FORWARD -j ACCEPT']);
    expect(verdictOf(rs, 'filter', 'FORWARD').verdict.kind).toBe('DROP');
  });
  it('goto: RETURN from the target returns to the chain that called the chain containing the goto', () => {
    const rs = rules(
      'mangle',
      ['A', 'B', 'C'],
      [
        '-A PREROUTING -j A',
        '-A PREROUTING -j MARK --or-mark 0x100',
        '-A A -g B',
        '-A A -j MARK --or-mark 0x1',
        '-A B -j MARK --or-mark 0x10',
        '-A B -j RETURN',
      ],
    );
    const r = verdictOf(rs, 'mangle', 'PREROUTING', tcp('1.1.1.1:1', '2.2.2.2:2'), ctx({ trace: true }));
    expect(r.packet.mark).toBe(0x110); // A's second rule never ran
    const rsJump = rules(
      'mangle',
      ['A', 'B'],
      ['-A PREROUTING -j A', '-A A -j B', '-A A -j MARK --or-mark 0x1', '-A B -j RETURN'],
    );
    expect(verdictOf(rsJump, 'mangle', 'PREROUTING').packet.mark).toBe(0x1);
    // goto from the built-in chain: falling off the user chain applies the policy.
    const rsBase = rules('filter', ['A'], [':INPUT DROP [0:0]', '-A INPUT -g A', '-A INPUT -j ACCEPT']);
    expect(verdictOf(rsBase, 'filter', 'INPUT').verdict.kind).toBe('DROP');
  });
  it('counters count packets whose matches all matched, and policy counters', () => {
    const rs = rules('filter', [], [':INPUT ACCEPT [0:0]', '-A INPUT -p tcp', '-A INPUT -p udp -j DROP']);
    verdictOf(rs, 'filter', 'INPUT', tcp('1.1.1.1:1', '2.2.2.2:2', { length: 100 }));
    verdictOf(rs, 'filter', 'INPUT', tcp('1.1.1.1:1', '2.2.2.2:2', { length: 50 }));
    verdictOf(rs, 'filter', 'INPUT', udp('1.1.1.1:1', '2.2.2.2:2'));
    const chain = rs.tables.get('filter')!.chains.get('INPUT')!;
    expect(chain.rules.map((r) => r.counters)).toEqual([
      { packets: 2, bytes: 150 },
      { packets: 1, bytes: 60 },
    ]);
    expect(chain.counters).toEqual({ packets: 2, bytes: 150 });
  });
  it('trace carries table, chain, 1-based rule number and iptables-save text', () => {
    const rs = rules(
      'nat',
      ['KUBE-SERVICES'],
      [
        '-A PREROUTING -m comment --comment "kubernetes service portals" -j KUBE-SERVICES',
        '-A KUBE-SERVICES -m comment --comment x -p udp -d 10.96.0.10 --dport 53 -j RETURN',
        '-A KUBE-SERVICES -m comment --comment web -m tcp -p tcp -d 10.96.0.1 --dport 80 -j DNAT --to-destination 10.244.0.5:80',
      ],
    );
    const r = verdictOf(rs, 'nat', 'PREROUTING', undefined, ctx({ trace: true }));
    const ruleEntries = r.trace.filter((e) => e.kind === 'rule');
    expect(ruleEntries.map((e) => [e.table, e.chain, e.num])).toEqual([
      ['nat', 'PREROUTING', 1],
      ['nat', 'KUBE-SERVICES', 2],
    ]);
    expect(ruleEntries[1]!.text).toBe(
      '-A KUBE-SERVICES -d 10.96.0.1/32 -p tcp -m comment --comment web -m tcp --dport 80 -j DNAT --to-destination 10.244.0.5:80',
    );
    expect(verdictOf(rs, 'nat', 'PREROUTING').trace).toEqual([]);
  });
});

describe('hooks', () => {
  it('documents the table order per hook with kernel priorities', () => {
    expect(HOOK_ORDER.PREROUTING.map((s) => s.table)).toEqual(['raw', 'mangle', 'nat']);
    expect(HOOK_ORDER.OUTPUT.map((s) => s.table)).toEqual(['raw', 'mangle', 'nat', 'filter']);
    expect(HOOK_ORDER.INPUT.map((s) => s.table)).toEqual(['mangle', 'filter', 'nat']);
    expect(HOOK_ORDER.POSTROUTING.map((s) => s.priority)).toEqual([NF_IP_PRI.MANGLE, NF_IP_PRI.NAT_SRC]);
    for (const steps of Object.values(HOOK_ORDER)) {
      expect(steps.map((s) => s.priority)).toEqual([...steps.map((s) => s.priority)].sort((a, b) => a - b));
    }
  });
});
