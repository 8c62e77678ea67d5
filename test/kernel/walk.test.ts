import { describe, expect, it } from 'vitest';
import { parseIP } from '../../netmodel/addr.js';
import { KernelNode, receive, send } from '../../netmodel/kernel/index.js';
import { ACK, packet, SYN, SYN_ACK } from '../../netmodel/packet.js';
import { SeededRng } from '../../netmodel/rng.js';

/** A node like a Kubernetes worker: eth0 on the node network, cni0 for its pods, a route to another node's pods. */
function worker(): KernelNode {
  const n = new KernelNode({ name: 'worker-1' });
  n.routing.addInterface({ name: 'eth0', kind: 'ethernet', up: true });
  n.routing.addAddress('eth0', '10.0.0.11/24');
  n.routing.addInterface({ name: 'cni0', kind: 'bridge', up: true });
  n.routing.addAddress('cni0', '10.244.1.1/24');
  n.routing.addRoute({ dst: '10.244.2.0/24', via: '10.0.0.12', dev: 'eth0' });
  n.routing.addRoute({ dst: 'default', via: '10.0.0.1', dev: 'eth0' });
  n.restore(
    [
      '*nat',
      ':PREROUTING ACCEPT [0:0]',
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
      '-A KUBE-SERVICES -d 10.96.0.20/32 -p tcp -m tcp --dport 80 -j DNAT --to-destination 10.244.2.5:8080',
      'COMMIT',
      '*filter',
      ':INPUT ACCEPT [0:0]',
      ':FORWARD ACCEPT [0:0]',
      ':OUTPUT ACCEPT [0:0]',
      '-A FORWARD -d 10.96.0.99/32 -p tcp -j REJECT',
      'COMMIT',
      '',
    ].join('\n'),
  );
  return n;
}

const env = (now = 0) => ({ now, rng: new SeededRng(1), trace: true });
const ip = parseIP;

describe('the packet walker', () => {
  it('pod -> ClusterIP: DNAT in PREROUTING, forwarded to the endpoint node, no masquerade for pod traffic', () => {
    const n = worker();
    const syn = packet({
      proto: 'tcp',
      src: ip('10.244.1.5'),
      dst: ip('10.96.0.20'),
      sport: 40000,
      dport: 80,
      tcp: SYN,
    });
    const r = receive(n, syn, 'cni0', env());
    expect(r.outcome.kind).toBe('sent');
    if (r.outcome.kind !== 'sent') return;
    expect(r.outcome.dev).toBe('eth0');
    expect(r.outcome.nextHop.text).toBe('10.0.0.12');
    expect(r.outcome.packet.dst.text).toBe('10.244.2.5');
    expect(r.outcome.packet.dport).toBe(8080);
    expect(r.outcome.packet.src.text).toBe('10.244.1.5');
    expect(r.dnat).toEqual({ ip: ip('10.244.2.5'), port: 8080 });
    expect(r.snat).toBeUndefined();
    expect(r.verdict).toBe('ACCEPT');
    const natStage = r.stages.find((s) => s.kind === 'table' && s.table === 'nat' && s.hook === 'PREROUTING');
    expect(
      natStage &&
        natStage.kind === 'table' &&
        natStage.trace.some((t) => t.kind === 'rule' && t.text.includes('DNAT')),
    ).toBe(true);

    // The reply comes back from the endpoint and is un-DNATed from conntrack, without the nat table.
    const reply = packet({
      proto: 'tcp',
      src: ip('10.244.2.5'),
      dst: ip('10.244.1.5'),
      sport: 8080,
      dport: 40000,
      tcp: SYN_ACK,
    });
    const back = receive(n, reply, 'eth0', env(1));
    expect(back.outcome.kind).toBe('sent');
    if (back.outcome.kind !== 'sent') return;
    expect(back.outcome.dev).toBe('cni0');
    expect(back.outcome.packet.src.text).toBe('10.96.0.20');
    expect(back.outcome.packet.sport).toBe(80);
    expect(back.ctDir).toBe('REPLY');
    expect(back.stages.some((s) => s.kind === 'table' && s.table === 'nat')).toBe(false);

    // A later packet of the flow follows the entry too.
    const ack = receive(n, { ...syn, tcp: ACK }, 'cni0', env(2));
    expect(ack.outcome.kind === 'sent' && ack.outcome.packet.dst.text).toBe('10.244.2.5');
    expect(ack.stages.filter((s) => s.kind === 'nat-skipped').length).toBeGreaterThan(0);
    const lines = n.conntrack.entries(3);
    expect(lines).toHaveLength(1);
    expect(lines[0]!.tcpState).toBe('ESTABLISHED');
  });

  it('node process -> ClusterIP: OUTPUT DNAT, re-route, MASQUERADE to the outgoing interface address', () => {
    const n = worker();
    const syn = packet({
      proto: 'tcp',
      src: ip('10.0.0.11'),
      dst: ip('10.96.0.20'),
      sport: 50000,
      dport: 80,
      tcp: SYN,
    });
    const r = send(n, syn, env());
    expect(r.outcome.kind).toBe('sent');
    if (r.outcome.kind !== 'sent') return;
    expect(r.outcome.packet.dst.text).toBe('10.244.2.5');
    expect(r.outcome.packet.src.text).toBe('10.0.0.11');
    expect(r.stages.some((s) => s.kind === 'route' && s.decision.startsWith('re-route after DNAT'))).toBe(
      true,
    );
    const post = r.stages.find((s) => s.kind === 'table' && s.table === 'nat' && s.hook === 'POSTROUTING');
    expect(post && post.kind === 'table' && post.nat?.kind).toBe('MASQUERADE');
    // The mark was xored off again before MASQUERADE, as kube-proxy does.
    expect(r.outcome.packet.mark).toBe(0);
  });

  it('REJECT in filter ends the walk with the reject type', () => {
    const n = worker();
    const r = receive(
      n,
      packet({ proto: 'tcp', src: ip('10.244.1.5'), dst: ip('10.96.0.99'), sport: 1, dport: 80 }),
      'cni0',
      env(),
    );
    expect(r.outcome).toMatchObject({ kind: 'rejected', hook: 'FORWARD', table: 'filter' });
    expect(r.verdict).toBe('REJECT');
  });

  it('local delivery, unroutable and forwarding-off outcomes are values', () => {
    const n = worker();
    const toNode = receive(
      n,
      packet({ proto: 'tcp', src: ip('10.0.0.50'), dst: ip('10.0.0.11'), sport: 1, dport: 22 }),
      'eth0',
      env(),
    );
    expect(toNode.outcome.kind).toBe('delivered');
    const off = new KernelNode({ name: 'x', ipForward: false });
    off.routing.addInterface({ name: 'eth0', up: true });
    off.routing.addAddress('eth0', '10.0.0.5/24');
    const dropped = receive(
      off,
      packet({ proto: 'udp', src: ip('10.0.0.6'), dst: ip('10.9.9.9'), sport: 1, dport: 2 }),
      'eth0',
      env(),
    );
    expect(dropped.outcome).toMatchObject({ kind: 'dropped' });
    const lonely = new KernelNode({ name: 'y' });
    const nowhere = send(
      lonely,
      packet({ proto: 'udp', src: ip('127.0.0.1'), dst: ip('10.9.9.9'), sport: 1, dport: 2 }),
      env(),
    );
    expect(nowhere.outcome).toMatchObject({ kind: 'unreachable' });
  });

  it('a local process reaching the node itself goes out and back in through lo', () => {
    const n = worker();
    const r = send(
      n,
      packet({ proto: 'tcp', src: ip('127.0.0.1'), dst: ip('127.0.0.1'), sport: 3333, dport: 10256 }),
      env(),
    );
    expect(r.outcome.kind).toBe('delivered');
    const hooks = r.stages
      .filter((s) => s.kind === 'table')
      .map((s) => (s.kind === 'table' ? `${s.hook}/${s.table}` : ''));
    // The entry travels with the looped-back packet: conntrack looks it up once.
    expect(r.stages.filter((st) => st.kind === 'conntrack')).toHaveLength(1);
    expect(hooks).toEqual([
      'OUTPUT/raw',
      'OUTPUT/mangle',
      'OUTPUT/nat',
      'OUTPUT/filter',
      'POSTROUTING/mangle',
      'POSTROUTING/nat',
      'PREROUTING/raw',
      'PREROUTING/mangle',
      'INPUT/mangle',
      'INPUT/filter',
    ]);
  });
});

/**
 * A router with a 1400-byte uplink. net/ipv4/ip_forward.c, ip_forward(): the TTL check, then
 * `if (ip_exceeds_mtu(skb, mtu)) { icmp_send(..., ICMP_FRAG_NEEDED, ...); goto drop; }`, then
 * ip_decrease_ttl and only then NF_HOOK(NF_INET_FORWARD, ...). So a too-big DF packet moves no
 * FORWARD or POSTROUTING counter, and its conntrack entry (created at PREROUTING) is never
 * confirmed (nf_conntrack_confirm runs at POSTROUTING/INPUT), so it never enters the table.
 */
describe('ip_forward checks the MTU before the FORWARD hook', () => {
  function router(): KernelNode {
    const n = new KernelNode({ name: 'router' });
    n.routing.addInterface({ name: 'eth0', kind: 'ethernet', up: true, mtu: 1400 });
    n.routing.addAddress('eth0', '10.0.0.11/24');
    n.routing.addInterface({ name: 'cni0', kind: 'bridge', up: true });
    n.routing.addAddress('cni0', '10.244.1.1/24');
    n.restore(
      [
        '*nat',
        ':PREROUTING ACCEPT [0:0]',
        ':INPUT ACCEPT [0:0]',
        ':OUTPUT ACCEPT [0:0]',
        ':POSTROUTING ACCEPT [0:0]',
        '-A POSTROUTING -s 10.244.1.5/32 -j RETURN',
        'COMMIT',
        '*filter',
        ':INPUT ACCEPT [0:0]',
        ':FORWARD ACCEPT [0:0]',
        ':OUTPUT ACCEPT [0:0]',
        '-A FORWARD -s 10.244.1.5/32 -j ACCEPT',
        '-A OUTPUT -d 10.0.0.12/32 -j ACCEPT',
        'COMMIT',
        '',
      ].join('\n'),
    );
    return n;
  }
  const echo = (src: string, length: number, df: boolean) =>
    packet({
      proto: 'icmp',
      src: ip(src),
      dst: ip('10.0.0.12'),
      icmp: { type: 8, code: 0, id: 7 },
      length,
      df,
      ttl: 64,
    });
  /** The [packets:bytes] of the three test rules, by chain. */
  const counters = (n: KernelNode) => {
    const lines = n.save({ counters: true }).split('\n');
    const of = (chain: string) => lines.find((l) => l.includes(`-A ${chain} `))?.split(' ')[0];
    return { FORWARD: of('FORWARD'), POSTROUTING: of('POSTROUTING'), OUTPUT: of('OUTPUT') };
  };

  it('a 1500-byte DF packet is dropped in ip_forward: no FORWARD/POSTROUTING counter, no conntrack entry', () => {
    const n = router();
    const r = receive(n, echo('10.244.1.5', 1500, true), 'cni0', env());
    expect(r.outcome).toMatchObject({ kind: 'dropped', tooBig: { dev: 'eth0', mtu: 1400, local: false } });
    // The ICMP error quotes the header as it arrived (the TTL is not yet decremented).
    expect(r.outcome.kind === 'dropped' && r.outcome.tooBig?.packet.ttl).toBe(64);
    expect(
      r.stages.some((s) => s.kind === 'table' && (s.hook === 'FORWARD' || s.hook === 'POSTROUTING')),
    ).toBe(false);
    expect(counters(n)).toEqual({ FORWARD: '[0:0]', POSTROUTING: '[0:0]', OUTPUT: '[0:0]' });
    expect(n.conntrack.entries(0)).toHaveLength(0);
  });

  it('a 1400-byte DF packet fits: both counters move, TTL 63 leaves, the entry is confirmed', () => {
    const n = router();
    const r = receive(n, echo('10.244.1.5', 1400, true), 'cni0', env());
    expect(r.outcome).toMatchObject({ kind: 'sent', dev: 'eth0', forwarded: true });
    expect(r.outcome.kind === 'sent' && r.outcome.packet.ttl).toBe(63);
    expect(counters(n)).toEqual({ FORWARD: '[1:1400]', POSTROUTING: '[1:1400]', OUTPUT: '[0:0]' });
    expect(n.conntrack.entries(0)).toHaveLength(1);
  });

  it('a local DF send over the MTU fails with EMSGSIZE before OUTPUT (ip_append_data)', () => {
    const n = router();
    const r = send(n, echo('10.0.0.11', 1500, true), env());
    expect(r.outcome).toMatchObject({ kind: 'dropped', tooBig: { dev: 'eth0', mtu: 1400, local: true } });
    expect(r.outcome.kind === 'dropped' && r.outcome.reason).toMatch(/EMSGSIZE/);
    expect(counters(n)).toEqual({ FORWARD: '[0:0]', POSTROUTING: '[0:0]', OUTPUT: '[0:0]' });
    expect(n.conntrack.entries(0)).toHaveLength(0);
  });

  it('a packet with no TTL (an outside sender) left its host with 64 and is forwarded with 63', () => {
    const n = router();
    const p = packet({
      proto: 'icmp',
      src: ip('10.244.1.5'),
      dst: ip('10.0.0.12'),
      icmp: { type: 8, code: 0, id: 7 },
    });
    const r = receive(n, p, 'cni0', env());
    expect(r.outcome.kind === 'sent' && r.outcome.packet.ttl).toBe(63);
  });
});
