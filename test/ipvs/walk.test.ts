/**
 * IPVS in the walker, where the kernel hooks it (ip_vs_core.c ip_vs_ops4): LOCAL_IN after filter
 * INPUT for packets to a local virtual address, LOCAL_OUT for locally generated ones, FORWARD for
 * replies; the DNATed packet leaves through LOCAL_OUT and POSTROUTING, where kube-proxy's
 * MASQUERADE still applies because net.ipv4.vs.conntrack=1 keeps the conntrack entry and changes
 * its reply tuple to the real server (ip_vs_nfct.c).
 */
import { describe, expect, it } from 'vitest';
import { parseIP } from '../../netmodel/addr.js';
import { IpvsTable, KUBE_PROXY_IPVS_SYSCTLS, renderIpvsadmConnections } from '../../netmodel/ipvs/index.js';
import { KernelNode, receive, send, type WalkResult } from '../../netmodel/kernel/index.js';
import { SeededRng } from '../../netmodel/rng.js';
import { rs, tcp, vs } from './builders.js';

/** A worker in ipvs mode: the VIP on kube-ipvs0, kube-proxy's masquerade rules, one real server per service. */
function worker(opts: { conntrack?: boolean; hairpin?: boolean } = {}): KernelNode {
  const ipvs = new IpvsTable({ sysctls: { ...KUBE_PROXY_IPVS_SYSCTLS, conntrack: opts.conntrack ?? true } });
  const n = new KernelNode({ name: 'worker-1', ipvs });
  n.routing.addInterface({ name: 'eth0', kind: 'ethernet', up: true });
  n.routing.addAddress('eth0', '10.0.0.11/24');
  n.routing.addInterface({ name: 'cni0', kind: 'bridge', up: true });
  n.routing.addAddress('cni0', '10.244.1.1/24');
  // kube-ipvs0 is a dummy device kept down; its /32 addresses are still local.
  n.routing.addInterface({ name: 'kube-ipvs0', kind: 'dummy', up: false });
  n.routing.addAddress('kube-ipvs0', '10.96.0.20/32');
  n.routing.addRoute({ dst: '10.244.2.0/24', via: '10.0.0.12', dev: 'eth0' });
  n.routing.addRoute({ dst: 'default', via: '10.0.0.1', dev: 'eth0' });
  n.restore(
    [
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
      // KUBE-LOOP-BACK as a plain rule: a pod reaching itself through its service is masqueraded.
      '-A KUBE-POSTROUTING -s 10.244.1.5/32 -d 10.244.1.5/32 -j MASQUERADE',
      '-A KUBE-POSTROUTING -m mark ! --mark 0x4000/0x4000 -j RETURN',
      '-A KUBE-POSTROUTING -j MARK --xor-mark 0x4000',
      '-A KUBE-POSTROUTING -j MASQUERADE --random-fully',
      '-A KUBE-SERVICES -d 10.96.0.20/32 -p tcp -m tcp --dport 80 ! -s 10.244.0.0/16 -j KUBE-MARK-MASQ',
      '-A KUBE-SERVICES -d 10.96.0.20/32 -p tcp -m tcp --dport 80 -j ACCEPT',
      'COMMIT',
      '',
    ].join('\n'),
  );
  ipvs.sync([vs('10.96.0.20:80', 'rr', [rs(opts.hairpin ? '10.244.1.5:8080' : '10.244.2.5:8080')])]);
  return n;
}

const env = (now = 0) => ({ now, rng: new SeededRng(7), trace: true });

function kinds(r: WalkResult): string[] {
  return r.stages.map((s) =>
    s.kind === 'table' ? `${s.hook}/${s.table}` : s.kind === 'ipvs' ? `ipvs:${s.hook}:${s.action}` : s.kind,
  );
}

describe('IPVS in the walker', () => {
  it('pod -> VIP: scheduled at LOCAL_IN after filter INPUT, DNATed, sent on through OUTPUT and POSTROUTING', () => {
    const n = worker();
    const r = receive(n, tcp('10.244.1.5:40000', '10.96.0.20:80', 'S'), 'cni0', env());
    expect(r.outcome).toMatchObject({ kind: 'sent', dev: 'eth0', forwarded: false });
    if (r.outcome.kind !== 'sent') return;
    expect(r.outcome.packet.dst.text).toBe('10.244.2.5');
    expect(r.outcome.packet.src.text).toBe('10.244.1.5'); // pod traffic is not masqueraded
    expect(r.outcome.nextHop.text).toBe('10.0.0.12');
    expect(r.dnat).toMatchObject({ port: 8080 });
    expect(r.dnat?.ip.text).toBe('10.244.2.5');
    expect(r.ipvs?.explanation.schedule).toMatchObject({ scheduler: 'rr' });
    const k = kinds(r);
    // filter INPUT before IPVS, no nat INPUT (IPVS at 99 steals the packet before nat at 100).
    expect(k.indexOf('INPUT/filter')).toBeLessThan(k.indexOf('ipvs:INPUT:scheduled'));
    expect(k).not.toContain('INPUT/nat');
    expect(k.slice(k.indexOf('ipvs:INPUT:scheduled'))).toEqual(
      expect.arrayContaining(['OUTPUT/filter', 'POSTROUTING/nat', 'confirm']),
    );
    // conntrack: original to the VIP, reply from the real server (ip_vs_update_conntrack).
    expect(r.ct?.original.dst.text).toBe('10.96.0.20');
    expect(r.ct?.reply.src.text).toBe('10.244.2.5');
    expect(r.ct?.reply.sport).toBe(8080);

    // The SYN+ACK comes back on eth0: conntrack finds the entry (reply), IPVS at FORWARD puts the VIP back.
    const back = receive(n, tcp('10.244.2.5:8080', '10.244.1.5:40000', 'SA'), 'eth0', env(1));
    expect(back.outcome).toMatchObject({ kind: 'sent', dev: 'cni0', forwarded: true });
    if (back.outcome.kind !== 'sent') return;
    expect(`${back.outcome.packet.src.text}:${back.outcome.packet.sport}`).toBe('10.96.0.20:80');
    expect(kinds(back)).toContain('ipvs:FORWARD:reply');

    // The ACK rides the existing IPVS connection.
    const ack = receive(n, tcp('10.244.1.5:40000', '10.96.0.20:80', 'A'), 'cni0', env(2));
    expect(kinds(ack)).toContain('ipvs:INPUT:existing');
    expect(n.ipvs!.conns.list().map((c) => c.state)).toEqual(['ESTABLISHED']);
  });

  it('from outside the cluster: KUBE-MARK-MASQ then MASQUERADE in POSTROUTING, replies un-NATed twice', () => {
    const n = worker();
    const r = receive(n, tcp('10.0.0.50:5555', '10.96.0.20:80', 'S'), 'eth0', env());
    expect(r.outcome.kind).toBe('sent');
    if (r.outcome.kind !== 'sent') return;
    expect(r.outcome.packet.src.text).toBe('10.0.0.11');
    expect(r.outcome.packet.dst.text).toBe('10.244.2.5');
    const sp = r.outcome.packet.sport;
    const back = receive(n, tcp('10.244.2.5:8080', `10.0.0.11:${sp}`, 'SA'), 'eth0', env(1));
    expect(back.outcome.kind).toBe('sent');
    if (back.outcome.kind !== 'sent') return;
    // conntrack un-SNATs the destination, IPVS (FORWARD) un-DNATs the source.
    expect(`${back.outcome.packet.src.text}:${back.outcome.packet.sport}`).toBe('10.96.0.20:80');
    expect(`${back.outcome.packet.dst.text}:${back.outcome.packet.dport}`).toBe('10.0.0.50:5555');
  });

  it('hairpin: a pod reaching itself through its service is masqueraded to the bridge address', () => {
    const n = worker({ hairpin: true });
    const r = receive(n, tcp('10.244.1.5:40000', '10.96.0.20:80', 'S'), 'cni0', env());
    expect(r.outcome).toMatchObject({ kind: 'sent', dev: 'cni0' });
    if (r.outcome.kind !== 'sent') return;
    expect(r.outcome.packet.src.text).toBe('10.244.1.1');
    expect(r.outcome.packet.dst.text).toBe('10.244.1.5');
  });

  it('a process on the node: IPVS at LOCAL_OUT between nat and filter OUTPUT', () => {
    const n = worker();
    const r = send(n, tcp('10.0.0.11:33000', '10.96.0.20:80', 'S'), env());
    expect(r.outcome).toMatchObject({ kind: 'sent', dev: 'eth0' });
    const k = kinds(r);
    const at = k.indexOf('ipvs:OUTPUT:scheduled');
    expect(at).toBeGreaterThan(k.indexOf('OUTPUT/nat'));
    expect(k.indexOf('OUTPUT/filter')).toBeGreaterThan(at);
    expect(r.dnat?.ip.text).toBe('10.244.2.5');
  });

  it('without net.ipv4.vs.conntrack the packet goes on untracked: no MASQUERADE', () => {
    const n = worker({ conntrack: false });
    const r = receive(n, tcp('10.0.0.50:5555', '10.96.0.20:80', 'S'), 'eth0', env());
    expect(r.outcome.kind).toBe('sent');
    if (r.outcome.kind !== 'sent') return;
    expect(r.outcome.packet.src.text).toBe('10.0.0.50');
    expect(r.dnat?.ip.text).toBe('10.244.2.5');
    expect(n.conntrack.entries(1).length).toBe(0);
  });

  it('a non-SYN with no IPVS connection goes to the local stack; a service without servers answers port unreachable', () => {
    const n = worker();
    const r = receive(n, tcp('10.0.0.50:5555', '10.96.0.20:80', 'A'), 'eth0', env());
    expect(r.outcome.kind).toBe('delivered');
    n.ipvs!.sync([vs('10.96.0.20:80', 'rr', [])]);
    const u = receive(n, tcp('10.0.0.50:5556', '10.96.0.20:80', 'S'), 'eth0', env());
    expect(u.outcome).toMatchObject({ kind: 'unreachable', icmpCode: 3 });
  });

  it('ipvsadm -Lnc shows the walked connection', () => {
    const n = worker();
    receive(n, tcp('10.244.1.5:40000', '10.96.0.20:80', 'S'), 'cni0', env());
    expect(renderIpvsadmConnections(n.ipvs!, 0)).toContain(
      'TCP 01:00  SYN_RECV    10.244.1.5:40000   10.96.0.20:80      10.244.2.5:8080',
    );
    expect(parseIP('10.96.0.20')).toBeTruthy();
  });
});

describe('IPVS timers and conntrack', () => {
  it('an expired IPVS connection takes its conntrack entry with it (ip_vs_conn_drop_conntrack)', () => {
    const n = worker();
    receive(n, tcp('10.244.1.5:40000', '10.96.0.20:80', 'S'), 'cni0', env(0));
    receive(n, tcp('10.244.2.5:8080', '10.244.1.5:40000', 'SA'), 'eth0', env(1));
    receive(n, tcp('10.244.1.5:40000', '10.96.0.20:80', 'A'), 'cni0', env(2));
    // IPVS ESTABLISHED lasts 900 s; conntrack's ESTABLISHED 5 days.
    const toVip = (now: number) =>
      n.conntrack.entries(now).filter((e) => e.original.dst.text === '10.96.0.20');
    expect(toVip(800_000)).toHaveLength(1);
    // The next packet through the node, 903 s on (any packet: the timers run first).
    receive(n, tcp('10.244.1.9:1', '10.244.2.7:80', 'S'), 'cni0', env(903_000));
    expect(n.ipvs!.conns.size).toBe(0);
    expect(toVip(903_000)).toHaveLength(0);
  });
});
