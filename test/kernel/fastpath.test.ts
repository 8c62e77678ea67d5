/**
 * The walker's fast path (the megaflow cache of chain evaluations, netmodel/netfilter/flow-cache.ts)
 * against the slow path (every chain evaluated), over random rulesets, packets and whole TCP/UDP flows:
 * verdicts, packets, NAT, rule and policy counters, Rng draws and conntrack tables must be identical.
 */
import { describe, expect, it } from 'vitest';
import { parseIP } from '../../netmodel/addr.js';
import { formatConntrackList } from '../../netmodel/conntrack/index.js';
import {
  dnatOf,
  KernelNode,
  type Outcome,
  receive,
  receiveOutcome,
  receiveVerdict,
  send,
  sendOutcome,
  sendVerdict,
  snatOf,
  type WalkEnv,
  type WalkResult,
  type WalkVerdict,
} from '../../netmodel/kernel/index.js';
import type { CtView, EvalContext, IpSetStore, Ruleset } from '../../netmodel/netfilter/index.js';
import { emptyRuleset, evaluate, FlowCache, loadRestore } from '../../netmodel/netfilter/index.js';
import {
  ACK,
  FIN_ACK,
  type Packet,
  packet,
  RST,
  SYN,
  SYN_ACK,
  type TcpFlags,
} from '../../netmodel/packet.js';
import { intBelow, SeededRng } from '../../netmodel/rng.js';
import { newState } from '../netfilter/builders.js';

const pickOf = <T>(rng: SeededRng, xs: readonly T[]): T => xs[intBelow(rng, xs.length)]!;

/**
 * Random filter/mangle/raw rules over the fields the cache keys on (addresses, ports, devices, marks,
 * conntrack state and status, tcp flags, addrtype, sets) and, now and then, rules it must not cache
 * (statistic, recent, nfacct, LOG, CONNMARK).
 */
function randomRule(rng: SeededRng, chain: string, jumps: readonly string[], impure: boolean): string {
  const p = pickOf(rng, ['tcp', 'udp']);
  const not = () => (intBelow(rng, 4) === 0 ? '! ' : '');
  const pool = [
    `${not()}-s 10.${pickOf(rng, ['244.1', '244.2', '0.0'])}.0/${pickOf(rng, [24, 16, 32])}`,
    `${not()}-d ${pickOf(rng, ['10.96.0.20', '10.244.2.5', '10.0.0.11', '10.244.1.5'])}/${pickOf(rng, [32, 24])}`,
    `-p ${p} -m ${p} ${not()}--dport ${pickOf(rng, ['80', '8080', '53', '1:1024'])}`,
    `-p ${p} -m ${p} ${not()}--sport ${pickOf(rng, ['40000:40100', '80', '8080'])}`,
    '-p tcp -m tcp --tcp-flags SYN,ACK,FIN,RST SYN',
    '-p tcp -m tcp --tcp-flags FIN FIN',
    `${not()}-i ${pickOf(rng, ['eth0', 'cni0', 'lo', 'eth+'])}`,
    `${not()}-o ${pickOf(rng, ['eth0', 'cni0', 'lo'])}`,
    `-m mark ${not()}--mark ${pickOf(rng, ['0x4000/0x4000', '0x1/0x1', '0x0'])}`,
    `-m conntrack ${not()}--ctstate ${pickOf(rng, ['NEW', 'ESTABLISHED', 'RELATED,ESTABLISHED', 'INVALID', 'DNAT', 'SNAT', 'UNTRACKED'])}`,
    `-m state --state ${pickOf(rng, ['NEW', 'ESTABLISHED', 'INVALID'])}`,
    `-m conntrack --ctstatus ${pickOf(rng, ['ASSURED', 'SEEN_REPLY', 'CONFIRMED'])}`,
    `-m conntrack --ctdir ${pickOf(rng, ['ORIGINAL', 'REPLY'])}`,
    `-m conntrack --ctorigdst ${pickOf(rng, ['10.96.0.20', '10.244.2.5'])}`,
    `-m addrtype ${pickOf(rng, ['--dst-type LOCAL', '--dst-type UNICAST', '! --dst-type LOCAL'])}`,
    `-m addrtype --src-type LOCAL ${intBelow(rng, 2) ? '--limit-iface-out' : ''}`.trimEnd(),
    `-m set ${not()}--match-set S1 ${pickOf(rng, ['dst', 'src', 'dst,dst'])}`,
    // Sets whose lookups read ports: the cache keys on their answers, not on the ports.
    `-m set ${not()}--match-set ${pickOf(rng, ['S2', 'S5'])} ${pickOf(rng, ['dst,dst', 'src,src', 'dst,src', 'src,dst'])}`,
    `-m set ${not()}--match-set S3 ${pickOf(rng, ['dst', 'src'])}`,
    `-m set ${not()}--match-set S4 ${pickOf(rng, ['dst,dst,src', 'src,src,dst'])}`,
    '-m comment --comment "a rule"',
    `-p ${p} -m multiport --dports 80,8080`,
  ];
  const impurePool = [
    '-m statistic --mode random --probability 0.5',
    '-m statistic --mode nth --every 2 --packet 0',
    '-m recent --name R1 --set',
    '-m nfacct --nfacct-name N1',
  ];
  const targets = [
    '-j ACCEPT',
    '-j DROP',
    '-j REJECT',
    '-j RETURN',
    '-j MARK --or-mark 0x1',
    '-j MARK --set-xmark 0x4000/0x4000',
    '',
    ...jumps.map((j) => `-j ${j}`),
    ...jumps.map((j) => `-g ${j}`),
  ];
  const ms: string[] = [];
  let proto = false;
  for (let i = 0, n = 1 + intBelow(rng, 3); i < n; i++) {
    const m = impure && intBelow(rng, 6) === 0 ? pickOf(rng, impurePool) : pickOf(rng, pool);
    const hasProto = /-p /.test(m);
    if (ms.includes(m) || (hasProto && proto)) continue;
    // -i is not allowed on OUTPUT/POSTROUTING, -o not on PREROUTING/INPUT (iptables refuses them).
    if (/^(! )?-i /.test(m) && /OUTPUT|POSTROUTING/.test(chain)) continue;
    if (/^(! )?-o /.test(m) && /PREROUTING|INPUT/.test(chain)) continue;
    proto ||= hasProto;
    ms.push(m);
  }
  let t = pickOf(rng, targets);
  if (
    t === '-j REJECT' &&
    chain !== 'INPUT' &&
    chain !== 'FORWARD' &&
    chain !== 'OUTPUT' &&
    !/^U/.test(chain)
  )
    t = '-j DROP';
  if (impure && intBelow(rng, 8) === 0)
    t = pickOf(rng, ['-j LOG --log-prefix "fp: "', '-j CONNMARK --set-mark 0x7']);
  return `-A ${chain} ${ms.join(' ')} ${t}`.replace(/ +/g, ' ').trimEnd();
}

/** A kube-proxy-like nat table plus random filter, mangle and raw chains (user chains U1, U2). */
function randomRules(rng: SeededRng, impure: boolean): string {
  const out = [
    '*nat',
    ':PREROUTING ACCEPT [0:0]',
    ':INPUT ACCEPT [0:0]',
    ':OUTPUT ACCEPT [0:0]',
    ':POSTROUTING ACCEPT [0:0]',
    ':KUBE-SERVICES - [0:0]',
    ':KUBE-MARK-MASQ - [0:0]',
    ':KUBE-POSTROUTING - [0:0]',
    '-A PREROUTING -j KUBE-SERVICES',
    '-A OUTPUT -j KUBE-SERVICES',
    '-A POSTROUTING -j KUBE-POSTROUTING',
    '-A KUBE-MARK-MASQ -j MARK --or-mark 0x4000',
    '-A KUBE-POSTROUTING -m mark ! --mark 0x4000/0x4000 -j RETURN',
    '-A KUBE-POSTROUTING -j MARK --xor-mark 0x4000',
    '-A KUBE-POSTROUTING -j MASQUERADE --random-fully',
    '-A KUBE-SERVICES -d 10.96.0.20/32 -p tcp -m tcp --dport 80 ! -s 10.244.0.0/16 -j KUBE-MARK-MASQ',
    intBelow(rng, 2)
      ? '-A KUBE-SERVICES -d 10.96.0.20/32 -p tcp -m tcp --dport 80 -j DNAT --to-destination 10.244.2.5:8080'
      : '-A KUBE-SERVICES -d 10.96.0.20/32 -p tcp -m tcp --dport 80 -m statistic --mode random --probability 0.5 -j DNAT --to-destination 10.244.2.5:8080',
    '-A KUBE-SERVICES -d 10.96.0.20/32 -p tcp -m tcp --dport 80 -j DNAT --to-destination 10.244.1.7:8080',
    '-A KUBE-SERVICES -d 10.96.0.53/32 -p udp -m udp --dport 53 -j DNAT --to-destination 10.244.1.9:53',
    '-A KUBE-SERVICES -m addrtype --dst-type LOCAL -p tcp -m tcp --dport 30080 -j DNAT --to-destination 10.244.2.5:8080',
    'COMMIT',
  ];
  const hooks: Record<string, readonly string[]> = {
    filter: ['INPUT', 'FORWARD', 'OUTPUT'],
    mangle: ['PREROUTING', 'INPUT', 'FORWARD', 'OUTPUT', 'POSTROUTING'],
    raw: ['PREROUTING', 'OUTPUT'],
  };
  for (const table of ['filter', 'mangle', 'raw']) {
    const builtins = hooks[table]!;
    out.push(`*${table}`, ...builtins.map((c) => `:${c} ACCEPT [0:0]`), ':U1 - [0:0]', ':U2 - [0:0]');
    // Most of the time few rules and no DROP of everything, so flows get through and reach later states.
    for (const c of builtins) {
      const n = intBelow(rng, table === 'filter' ? 6 : 3);
      for (let i = 0; i < n; i++) out.push(randomRule(rng, c, ['U1', 'U2'], impure));
    }
    for (let i = 0; i < intBelow(rng, 4); i++) out.push(randomRule(rng, 'U1', ['U2'], impure));
    for (let i = 0; i < intBelow(rng, 4); i++) out.push(randomRule(rng, 'U2', [], impure));
    out.push('COMMIT');
  }
  return `${out.join('\n')}\n`;
}

/**
 * The sets the random rules match on: S1 hash:ip; S2 hash:ip,port and S4 hash:ip,port,ip (kube-proxy's
 * service sets), S3 bitmap:port (its node port sets), with members some flows' packets hit in each
 * direction; S5 hash:ip,port starts empty (and gets members when `changeSets` runs).
 */
function createSets(sets: IpSetStore): void {
  sets.create('S1', 'hash:ip');
  sets.add('S1', { ip: parseIP('10.96.0.20') });
  sets.create('S2', 'hash:ip,port');
  sets.add('S2', { ip: parseIP('10.96.0.20'), proto: 6, port: 80 });
  sets.add('S2', { ip: parseIP('10.96.0.53'), proto: 17, port: 53 });
  sets.add('S2', { ip: parseIP('10.244.1.5'), proto: 6, port: 40007 });
  sets.create('S3', 'bitmap:port', 4, { range: { from: 0, to: 65535 } });
  for (const port of [80, 8080, 40003, 40004]) sets.add('S3', { port });
  sets.create('S4', 'hash:ip,port,ip');
  sets.add('S4', { ip: parseIP('10.96.0.20'), proto: 6, port: 80, ip2: parseIP('10.244.1.5') });
  sets.add('S4', { ip: parseIP('10.244.1.6'), proto: 6, port: 40011, ip2: parseIP('10.244.2.5') });
  sets.create('S5', 'hash:ip,port');
}

/** kube-proxy's ipset restore between syncs: members come (S5's first) and go. */
function changeSets(sets: IpSetStore, i: number): void {
  sets.add('S1', { ip: parseIP(`10.96.0.${20 + (i % 5)}`) });
  sets.add('S5', { ip: parseIP('10.0.0.11'), proto: 6, port: 30080 });
  sets.add('S5', { ip: parseIP('10.244.1.6'), proto: 6, port: 40000 + (i % 60) });
  const p = 40000 + ((i * 7) % 60);
  if (i % 2) sets.add('S3', { port: p });
  else if (sets.test('S3', { port: p })) sets.del('S3', { port: p });
}

/** A worker node: eth0 on the node network, cni0 for its pods, a route to the other node's pods. */
function worker(rules: string): KernelNode {
  const n = new KernelNode({ name: 'worker-1' });
  n.routing.addInterface({ name: 'eth0', kind: 'ethernet', up: true });
  n.routing.addAddress('eth0', '10.0.0.11/24');
  n.routing.addInterface({ name: 'cni0', kind: 'bridge', up: true });
  n.routing.addAddress('cni0', '10.244.1.1/24');
  n.routing.addRoute({ dst: '10.244.2.0/24', via: '10.0.0.12', dev: 'eth0' });
  n.routing.addRoute({ dst: 'default', via: '10.0.0.1', dev: 'eth0' });
  createSets(n.nf.sets);
  n.restore(rules);
  return n;
}

interface Client {
  readonly src: string;
  /** How its packets enter the node: generated on it, or arriving on a device. */
  readonly from: 'local' | 'cni0' | 'eth0';
}
const CLIENTS: readonly Client[] = [
  { src: '10.0.0.11', from: 'local' },
  { src: '10.244.1.5', from: 'cni0' },
  { src: '10.244.1.6', from: 'cni0' },
  { src: '192.168.7.7', from: 'eth0' },
];
const TARGETS = ['10.96.0.20:80', '10.96.0.53:53', '10.0.0.11:30080', '10.244.2.5:8080', '10.244.1.7:8080'];

/** Where a packet enters the node: generated locally, or received on the device its source is behind. */
function enter(n: KernelNode, p: Packet, env: WalkEnv, local: boolean): WalkResult {
  if (local) return send(n, p, env);
  const a = p.src.text;
  const dev = a.startsWith('10.244.1.') ? 'cni0' : 'eth0';
  return receive(n, p, dev, env);
}

/** enter() through the lean entry points (the walk's outcome alone). */
function enterLean(n: KernelNode, p: Packet, env: WalkEnv, local: boolean): Outcome {
  if (local) return sendOutcome(n, p, env);
  return receiveOutcome(n, p, p.src.text.startsWith('10.244.1.') ? 'cni0' : 'eth0', env);
}

/** enter() through the verdict entry points (the outcome, the conntrack entry, IPVS's connection). */
function enterVerdict(n: KernelNode, p: Packet, env: WalkEnv, local: boolean): WalkVerdict {
  if (local) return sendVerdict(n, p, env);
  return receiveVerdict(n, p, p.src.text.startsWith('10.244.1.') ? 'cni0' : 'eth0', env);
}

/** What a walk decided, without object identities (the conntrack entries are compared as tables). */
function summary(r: WalkResult): unknown {
  const o = r.outcome;
  return {
    verdict: r.verdict,
    outcome: o.kind,
    packet: 'packet' in o ? o.packet : undefined,
    reason: 'reason' in o ? o.reason : undefined,
    dev: 'dev' in o ? o.dev : undefined,
    input: r.input,
    dnat: r.dnat,
    snat: r.snat,
    ctDir: r.ctDir,
    ctReply: r.ct?.reply,
  };
}

/**
 * Random flows through twin nodes, one walking with the cache and one without, one recording stages
 * (no cache, and the walk copies the packet at every change instead of writing into its own copy), one
 * through the lean entry points and one through the verdict entry points (both reuse one walk object,
 * packet and result): every packet's result, then the nodes' counters, conntrack tables and Rng
 * positions, are compared, and the caller's packets are never changed.
 */
function runFlows(rules: string, seed: number, flows: number): { hits: number } {
  const fast = worker(rules);
  const slow = worker(rules);
  const staged = worker(rules);
  const lean = worker(rules);
  const verdict = worker(rules);
  const rf = new SeededRng(seed);
  const rs = new SeededRng(seed);
  const rt = new SeededRng(seed);
  const rl = new SeededRng(seed);
  const rv = new SeededRng(seed);
  const prng = new SeededRng(seed ^ 0x1234);
  let now = 1000;
  const step = (p: Packet, local: boolean): void => {
    const before = { ...p };
    const a = enter(fast, p, { now, rng: rf, noStages: true }, local);
    const b = enter(slow, p, { now, rng: rs, noStages: true, flowCache: false }, local);
    const c = enter(staged, p, { now, rng: rt }, local);
    const d = enterLean(lean, p, { now, rng: rl, noStages: true }, local);
    expect(c.stages.length).toBeGreaterThan(0);
    expect(summary(a)).toEqual(summary(b));
    expect(summary(a)).toEqual(summary(c));
    // Read before the next walk, which refills it.
    expect(d).toEqual(a.outcome);
    const v = enterVerdict(verdict, p, { now, rng: rv, noStages: true }, local);
    expect(v.outcome).toEqual(a.outcome);
    expect(v.ctDir).toEqual(a.ctDir);
    expect(v.ct?.original).toEqual(a.ct?.original);
    expect(v.ct?.reply).toEqual(a.ct?.reply);
    expect(dnatOf(v.ct, v.ctDir, v.ipvsConn)).toEqual(a.dnat);
    expect(snatOf(v.ct, v.ctDir)).toEqual(a.snat);
    expect(p).toStrictEqual(before);
  };
  for (let i = 0; i < flows; i++) {
    const c = pickOf(prng, CLIENTS);
    const [dst, dportText] = pickOf(prng, TARGETS).split(':') as [string, string];
    const udp = dportText === '53';
    const sport = 40000 + intBelow(prng, 60);
    const local = c.from === 'local';
    const first = packet({
      proto: udp ? 'udp' : 'tcp',
      src: parseIP(c.src),
      dst: parseIP(dst),
      sport,
      dport: Number(dportText),
      tcp: SYN,
      mark: intBelow(prng, 5) === 0 ? 1 : 0,
    });
    step(first, local);
    const found = fast.conntrack.lookup(first, now);
    const seq: { flags: TcpFlags; reply: boolean }[] = udp
      ? [
          { flags: SYN, reply: true },
          { flags: SYN, reply: false },
        ]
      : [
          { flags: SYN_ACK, reply: true },
          { flags: ACK, reply: false },
          { flags: ACK, reply: intBelow(prng, 2) === 0 },
          intBelow(prng, 6) === 0 ? { flags: RST, reply: false } : { flags: FIN_ACK, reply: false },
          { flags: FIN_ACK, reply: true },
          { flags: ACK, reply: false },
        ];
    for (const s of seq) {
      now += intBelow(prng, 3);
      if (s.reply) {
        if (!found) continue;
        const r = found.entry.reply;
        step(
          packet({
            proto: r.proto,
            src: r.src,
            dst: r.dst,
            sport: r.sport,
            dport: r.dport,
            tcp: s.flags,
          }),
          // A reply from a pod on this node arrives on cni0; one from elsewhere on eth0.
          false,
        );
      } else {
        step(
          packet({
            proto: first.proto,
            src: first.src,
            dst: first.dst,
            sport: first.sport,
            dport: first.dport,
            tcp: s.flags,
            mark: first.mark,
          }),
          local,
        );
      }
    }
    if (i % 37 === 36) {
      // A set changes (kube-proxy's ipset restore) and a route comes: the cache must start afresh.
      for (const n of [fast, slow, staged, lean, verdict]) changeSets(n.nf.sets, i);
      if (i % 74 === 73)
        for (const n of [fast, slow, staged, lean, verdict])
          n.routing.addAddress('eth0', `10.0.0.${100 + (i % 50)}/24`);
    }
    now += 50;
  }
  for (const other of [slow, staged, lean, verdict]) {
    expect(fast.save({ counters: true })).toEqual(other.save({ counters: true }));
    expect(formatConntrackList(fast.conntrack.entries(now), now)).toEqual(
      formatConntrackList(other.conntrack.entries(now), now),
    );
    expect(fast.conntrack.statistics()).toEqual(other.conntrack.statistics());
  }
  const draw = rf.uint32();
  for (const r of [rs, rt, rl, rv]) expect(r.uint32()).toBe(draw);
  expect(slow.flowCache.hits + slow.flowCache.misses).toBe(0);
  return { hits: fast.flowCache.hits };
}

describe('the walker fast path (megaflow cache) against the slow path', () => {
  it('random rulesets of cacheable rules and random TCP/UDP flows: same results, counters, conntrack', () => {
    const rng = new SeededRng(17);
    let hits = 0;
    let ran = 0;
    for (let k = 0; k < 40; k++) {
      const text = randomRules(rng, false);
      try {
        loadRestore(emptyRuleset(4), text);
      } catch {
        continue; // a random jump loop: the loader refuses it
      }
      ran++;
      hits += runFlows(text, k, 40).hits;
    }
    expect(ran).toBeGreaterThan(30);
    // The fast path was taken (this is not a comparison of the slow path with itself).
    expect(hits).toBeGreaterThan(3000);
  });

  it('rulesets with rules that must not be cached (statistic, recent, nfacct, LOG, CONNMARK)', () => {
    const rng = new SeededRng(99);
    let ran = 0;
    for (let k = 0; k < 30; k++) {
      const text = randomRules(rng, true);
      try {
        loadRestore(emptyRuleset(4), text);
      } catch {
        continue;
      }
      ran++;
      runFlows(text, 1000 + k, 30);
    }
    expect(ran).toBeGreaterThan(15);
  });
});

describe('FlowCache.evaluate against evaluate', () => {
  it('replays verdicts, marks, NAT requests and counters for every flow shape, across set and route changes', () => {
    const rng = new SeededRng(5);
    let hits = 0;
    for (let k = 0; k < 40; k++) {
      const text = randomRules(rng, k % 4 === 0);
      let a: Ruleset;
      let b: Ruleset;
      try {
        a = loadRestore(emptyRuleset(4), text);
        b = loadRestore(emptyRuleset(4), text);
      } catch {
        continue;
      }
      const cache = new FlowCache();
      const sa = newState();
      const sb = newState();
      for (const s of [sa, sb]) createSets(s.sets);
      const ra = new SeededRng(k);
      const rb = new SeededRng(k);
      const prng = new SeededRng(k + 500);
      let routeGen = 0;
      // The addrtype answer depends on the "routing": 10.0.0.11 is local, and from generation 1 on so is 10.96.0.20.
      const addrType = (gen: () => number) => (ip: { text: string }) =>
        ip.text === '10.0.0.11' || (gen() > 0 && ip.text === '10.96.0.20')
          ? ('LOCAL' as const)
          : ('UNICAST' as const);
      const states: CtView['state'][] = ['NEW', 'ESTABLISHED', 'RELATED', 'INVALID', 'UNTRACKED'];
      for (let i = 0; i < 300; i++) {
        if (i === 150) {
          routeGen++;
          for (const s of [sa, sb]) {
            s.sets.add('S1', { ip: parseIP('10.244.2.5') });
            changeSets(s.sets, k);
          }
        }
        const [dst, port] = pickOf(prng, TARGETS).split(':') as [string, string];
        const p = packet({
          proto: intBelow(prng, 4) === 0 ? 'udp' : 'tcp',
          src: parseIP(pickOf(prng, CLIENTS).src),
          dst: parseIP(dst),
          sport: pickOf(prng, [40000, 40001, 40003, 40007, 40011, 80, 8080]),
          dport: Number(port),
          tcp: pickOf(prng, [SYN, SYN_ACK, ACK, FIN_ACK, RST]),
          mark: pickOf(prng, [0, 1, 0x4000]),
          iif: pickOf(prng, ['eth0', 'cni0', 'lo']),
          oif: pickOf(prng, ['eth0', 'cni0']),
          length: 40 + intBelow(prng, 1400),
        });
        const state = pickOf(prng, states);
        const ct: CtView = {
          state,
          dir: pickOf(prng, ['ORIGINAL', 'REPLY'] as const),
          status: pickOf(prng, [0, 8, 0x10 | 0x20, 0x2 | 0x4 | 0x8]),
          mark: 0,
          orig: { proto: p.proto, src: p.src, dst: p.dst, sport: p.sport, dport: p.dport },
          reply: {
            proto: p.proto,
            src: parseIP(pickOf(prng, ['10.244.2.5', '10.96.0.20'])),
            dst: p.src,
            sport: 8080,
            dport: p.sport,
          },
        };
        const gen = routeGen;
        const ctxOf = (r: SeededRng, s: ReturnType<typeof newState>): EvalContext => ({
          now: i,
          rng: r,
          state: s,
          ct,
          addrType: addrType(() => gen),
        });
        for (const [table, chain] of [
          ['filter', 'INPUT'],
          ['filter', 'FORWARD'],
          ['filter', 'OUTPUT'],
          ['mangle', 'PREROUTING'],
          ['mangle', 'POSTROUTING'],
          ['raw', 'OUTPUT'],
          ['nat', 'PREROUTING'],
          ['nat', 'OUTPUT'],
          ['nat', 'POSTROUTING'],
        ] as const) {
          const x = cache.evaluate(a, table, chain, p, ctxOf(ra, sa), routeGen);
          const y = evaluate(b, table, chain, p, ctxOf(rb, sb));
          expect(x).toEqual(y);
        }
      }
      expect(a).toEqual(b);
      expect(ra.uint32()).toBe(rb.uint32());
      expect(sa.nfacct).toEqual(sb.nfacct);
      hits += cache.hits;
    }
    expect(hits).toBeGreaterThan(10000);
  });

  it("keys a set match on its answer: ipvs mode's filter INPUT stays cached for a new reply port per connection", () => {
    // kube-proxy's ipvs-mode KUBE-IPVS-FILTER (pkg/proxy/ipvs/proxier.go writeIptablesRules): the
    // reply to a masqueraded connection comes back to a new port each time.
    const text = [
      '*filter',
      ':INPUT ACCEPT [0:0]',
      ':KUBE-IPVS-FILTER - [0:0]',
      '-A INPUT -j KUBE-IPVS-FILTER',
      '-A KUBE-IPVS-FILTER -m set --match-set S5 dst,dst -j RETURN',
      '-A KUBE-IPVS-FILTER -m set --match-set S2 dst,dst -j RETURN',
      '-A KUBE-IPVS-FILTER -m set --match-set S3 dst -j RETURN',
      '-A KUBE-IPVS-FILTER -m conntrack --ctstate NEW -m set --match-set S1 dst -j REJECT',
      'COMMIT',
      '',
    ].join('\n');
    const a = loadRestore(emptyRuleset(4), text);
    const b = loadRestore(emptyRuleset(4), text);
    const sa = newState();
    const sb = newState();
    createSets(sa.sets);
    createSets(sb.sets);
    const cache = new FlowCache();
    const rng = new SeededRng(3);
    const dsts = ['10.0.0.11', '10.96.0.20', '10.96.0.53'];
    for (let i = 0; i < 3000; i++) {
      // Replies to the node's address on a new port each, now and then a packet to a service (a set member).
      const svc = i % 50 === 49;
      const p = packet({
        proto: 'tcp',
        src: parseIP('10.244.2.5'),
        dst: parseIP(svc ? '10.96.0.20' : dsts[i % 3]!),
        sport: 8080,
        dport: svc ? 80 : 32768 + i,
        tcp: SYN_ACK,
        iif: 'eth0',
      });
      const ct: CtView = { state: i % 7 === 0 ? 'NEW' : 'ESTABLISHED', status: 0, mark: 0 };
      if (i === 1500) for (const s of [sa, sb]) s.sets.add('S3', { port: 32768 + 1600 });
      const x = cache.evaluate(a, 'filter', 'INPUT', p, { now: i, rng, state: sa, ct }, 0);
      const y = evaluate(b, 'filter', 'INPUT', p, { now: i, rng, state: sb, ct });
      expect(x).toEqual(y);
    }
    expect(a).toEqual(b);
    // One shape per (destination, ctstate, answers): the new ports do not make new flows.
    expect(cache.misses).toBeLessThan(40);
    expect(cache.hits).toBeGreaterThan(2900);
    // The S3 member added at 1500 was seen: the packet to its port returned early (a RETURN counted).
    expect(a.tables.get('filter')!.chains.get('KUBE-IPVS-FILTER')!.rules[2]!.counters.packets).toBe(1);
  });
});
