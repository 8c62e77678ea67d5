/**
 * IPVS in the walker without explanations against IPVS with them. The walks that record stages
 * (what `kpath trace` shows) build the explanation and the scheduler's reasoning; the walks that
 * record none (the runtime's SYN walk: env.noStages) and the lean entry points (its other five
 * packets: sendOutcome/receiveOutcome) build none and take the scheduler's pick alone
 * (Scheduler.pick, or schedule's dest for a scheduler without one). Over random TCP and UDP flows
 * from this node's pods, its processes and outside clients, through rr, wrr, lc and persistent
 * services, with real servers deleted and added between flows and the clock moving on, the three
 * twin nodes must end every packet alike (outcome, packet, DNAT/SNAT, conntrack reply) and end
 * with identical IPVS state (`ipvsadm -Lnc`, `-Ln --stats`, the connection counts), conntrack
 * tables and rule counters.
 */
import { describe, expect, it } from 'vitest';
import { parseIP } from '../../netmodel/addr.js';
import { formatConntrackList } from '../../netmodel/conntrack/index.js';
import {
  IpvsTable,
  KUBE_PROXY_IPVS_SYSCTLS,
  renderIpvsadmConnections,
  renderIpvsadmList,
} from '../../netmodel/ipvs/index.js';
import {
  KernelNode,
  type Outcome,
  receive,
  receiveOutcome,
  send,
  sendOutcome,
  type WalkEnv,
  type WalkResult,
} from '../../netmodel/kernel/index.js';
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
import { rs, vs } from './builders.js';

const pickOf = <T>(rng: SeededRng, xs: readonly T[]): T => xs[intBelow(rng, xs.length)]!;

/** The services, by what the random flows target (VIP:port), and the real servers each may have. */
const SERVICES = [
  { vip: '10.96.0.20:80', scheduler: 'rr', dests: ['10.244.1.5:8080', '10.244.2.5:8080', '10.244.2.6:8080'] },
  { vip: '10.96.0.21:80', scheduler: 'wrr', dests: ['10.244.1.6:8080', '10.244.2.7:8080'] },
  { vip: '10.96.0.22:443', scheduler: 'lc', dests: ['10.244.1.5:8443', '10.244.2.8:8443'] },
  { vip: '10.96.0.23:80', scheduler: 'rr', dests: ['10.244.2.5:8080', '10.244.1.7:8080'], persistent: true },
  { vip: 'udp:10.96.0.10:53', scheduler: 'rr', dests: ['10.244.1.8:53', '10.244.2.9:53'] },
] as const;

/** A random subset (in a random order, with random weights) of each service's real servers. */
function specs(rng: SeededRng) {
  return SERVICES.map((s) => {
    const dests = s.dests.filter(() => intBelow(rng, 4) !== 0).map((d) => rs(d, 1 + intBelow(rng, 3)));
    return vs(
      s.vip,
      s.scheduler,
      dests,
      'persistent' in s ? { persistence: { timeoutSeconds: 30, netmaskBits: 32 } } : {},
    );
  });
}

/** A node in ipvs mode as kube-proxy programs it: VIPs on kube-ipvs0, its masquerade rules. */
function node(): KernelNode {
  const ipvs = new IpvsTable({
    sysctls: KUBE_PROXY_IPVS_SYSCTLS,
    timeouts: { tcp: 60, tcpFin: 20, udp: 30 },
  });
  const n = new KernelNode({ name: 'worker-1', ipvs });
  n.routing.addInterface({ name: 'eth0', kind: 'ethernet', up: true });
  n.routing.addAddress('eth0', '10.0.0.11/24');
  n.routing.addInterface({ name: 'cni0', kind: 'bridge', up: true });
  n.routing.addAddress('cni0', '10.244.1.1/24');
  n.routing.addInterface({ name: 'kube-ipvs0', kind: 'dummy', up: false });
  for (const v of ['10.96.0.10', '10.96.0.20', '10.96.0.21', '10.96.0.22', '10.96.0.23'])
    n.routing.addAddress('kube-ipvs0', `${v}/32`);
  n.routing.addRoute({ dst: '10.244.2.0/24', via: '10.0.0.12', dev: 'eth0' });
  n.routing.addRoute({ dst: 'default', via: '10.0.0.1', dev: 'eth0' });
  n.restore(
    [
      '*filter',
      ':INPUT ACCEPT [0:0]',
      ':FORWARD ACCEPT [0:0]',
      ':OUTPUT ACCEPT [0:0]',
      '-A INPUT -m conntrack --ctstate NEW -d 10.96.0.0/12 -j ACCEPT',
      '-A INPUT -m conntrack --ctstate RELATED,ESTABLISHED -j ACCEPT',
      '-A FORWARD -m mark --mark 0x4000/0x4000 -j ACCEPT',
      '-A FORWARD -m conntrack --ctstate RELATED,ESTABLISHED -j ACCEPT',
      '-A OUTPUT -m ipvs --ipvs --vdir ORIGINAL -j ACCEPT',
      'COMMIT',
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
      '-A KUBE-SERVICES -d 10.96.0.0/12 ! -s 10.244.0.0/16 -j KUBE-MARK-MASQ',
      '-A KUBE-SERVICES -d 10.96.0.0/12 -j ACCEPT',
      'COMMIT',
      '',
    ].join('\n'),
  );
  return n;
}

/** Where a client sends from: a pod on this node (cni0), a process on it, or an outside host (eth0). */
const CLIENTS = [
  { src: '10.244.1.20', from: 'cni0' },
  { src: '10.244.1.21', from: 'cni0' },
  { src: '10.0.0.11', from: 'local' },
  { src: '192.168.5.9', from: 'eth0' },
  { src: '10.244.2.30', from: 'eth0' },
] as const;

/** A packet into the node: generated here, or arriving on `from` (a reply: from where its source is). */
function enter(n: KernelNode, p: Packet, env: WalkEnv, from: string): WalkResult {
  return from === 'local' ? send(n, p, env) : receive(n, p, from, env);
}

function enterLean(n: KernelNode, p: Packet, env: WalkEnv, from: string): Outcome {
  return from === 'local' ? sendOutcome(n, p, env) : receiveOutcome(n, p, from, env);
}

/** What a walk decided, without object identities. */
function summary(r: WalkResult): unknown {
  const o = r.outcome;
  return {
    verdict: r.verdict,
    outcome: o.kind,
    packet: 'packet' in o ? o.packet : undefined,
    reason: 'reason' in o ? o.reason : undefined,
    dnat: r.dnat,
    snat: r.snat,
    ctReply: r.ct?.reply,
    ipvsConn: r.ipvs?.conn.id,
  };
}

/** Everything a node shows of its IPVS, conntrack and rules. */
function state(n: KernelNode, now: number): string[] {
  const t = n.ipvs!;
  return [
    renderIpvsadmConnections(t, now),
    renderIpvsadmList(t, { stats: true }),
    renderIpvsadmList(t, { persistentConn: true }),
    formatConntrackList(n.conntrack.entries(now), now),
    n.save({ counters: true }),
  ];
}

function run(seed: number, flows: number): { taken: number; explained: number } {
  const staged = node();
  const quiet = node();
  const lean = node();
  const nodes = [staged, quiet, lean];
  const prng = new SeededRng(seed);
  const rngs = nodes.map(() => new SeededRng(seed ^ 0x5eed));
  let now = 1_000;
  let taken = 0;
  let explained = 0;
  const program = () => {
    const s = specs(prng);
    for (const n of nodes) n.ipvs!.sync(s, now);
  };
  program();
  /** One packet through the three nodes: the staged walk's result is what the other two must give. */
  const step = (p: Packet, from: string): WalkResult => {
    const a = enter(staged, p, { now, rng: rngs[0]! }, from);
    const b = enter(quiet, p, { now, rng: rngs[1]!, noStages: true }, from);
    const c = enterLean(lean, p, { now, rng: rngs[2]!, noStages: true }, from);
    expect(summary(b)).toEqual(summary(a));
    expect(c).toEqual(a.outcome);
    if (a.ipvs) {
      taken++;
      if (a.ipvs.explanation.schedule) explained++;
      // The walk that records no stages keeps the connection, not the reasoning.
      expect(b.ipvs?.explanation.lines).toEqual([]);
      expect(b.ipvs?.explanation.schedule).toBeUndefined();
    }
    return a;
  };
  for (let i = 0; i < flows; i++) {
    if (intBelow(prng, 12) === 0) program(); // endpoints change: dests added, edited, deleted
    const c = pickOf(prng, CLIENTS);
    const s = pickOf(prng, SERVICES);
    const udp = s.vip.startsWith('udp:');
    const [vip, vport] = s.vip.replace(/^udp:/, '').split(':') as [string, string];
    // Few client ports, so ports come back while IPVS and conntrack still hold their old entries.
    const sport = 40000 + intBelow(prng, 40);
    const first = packet({
      proto: udp ? 'udp' : 'tcp',
      src: parseIP(c.src),
      dst: parseIP(vip),
      sport,
      dport: Number(vport),
      tcp: SYN,
    });
    const r = step(first, c.from);
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
    const stop = intBelow(prng, 5) === 0 ? intBelow(prng, seq.length) : seq.length; // some flows stall
    for (let k = 0; k < stop; k++) {
      const st = seq[k]!;
      now += intBelow(prng, 400);
      if (st.reply) {
        const rep = r.ct?.reply;
        if (!rep) continue;
        // The real server answers the tuple conntrack expects; it arrives where that server is.
        const here = rep.src.text.startsWith('10.244.1.') || rep.src.text === '10.0.0.11';
        step(
          packet({
            proto: rep.proto,
            src: rep.src,
            dst: rep.dst,
            sport: rep.sport,
            dport: rep.dport,
            tcp: st.flags,
          }),
          rep.src.text === '10.0.0.11' ? 'local' : here ? 'cni0' : 'eth0',
        );
      } else step({ ...first, tcp: st.flags }, c.from);
    }
    now += intBelow(prng, 3) === 0 ? 25_000 + intBelow(prng, 40_000) : intBelow(prng, 500);
  }
  const want = state(staged, now);
  expect(state(quiet, now)).toEqual(want);
  expect(state(lean, now)).toEqual(want);
  expect(rngs[1]!.uint32()).toBe(rngs[0]!.uint32());
  return { taken, explained };
}

describe('IPVS walks without explanations', () => {
  it('decide, count and expire exactly as the walks that explain', () => {
    let taken = 0;
    let explained = 0;
    for (const seed of [1, 2, 3]) {
      const r = run(seed, 200);
      taken += r.taken;
      explained += r.explained;
    }
    // The flows reached IPVS's scheduler (explained picks) and its existing connections.
    expect(explained).toBeGreaterThan(150);
    expect(taken).toBeGreaterThan(explained);
  });
});
