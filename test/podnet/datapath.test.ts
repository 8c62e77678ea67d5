/**
 * The device walker on two-node clusters, checked against what the real kernel does (the facts
 * measured with iproute2-built flannel topologies in namespaces, datapath.md section 10, and the
 * kernel/flannel/Calico sources): interfaces crossed, MACs, TTLs, the VXLAN encapsulation, ARP and
 * the bridge FDB, the MTU story.
 */
import { createHash } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { macOf, vtepMac } from '../../cni/index.js';
import { parseIP } from '../../netmodel/addr.js';
import { BridgeFdb, checkMtu, fragmentsOf } from '../../netmodel/devices/index.js';
import type { Travel } from '../../netmodel/kernel/index.js';
import { packet } from '../../netmodel/packet.js';
import { clusterCfg, node, snapshotOf } from '../helpers/cluster.js';
import { fixedPod, frames, icmpEcho, start, tcp, world } from './helpers.js';

function twoNodes(network?: Record<string, unknown>) {
  return snapshotOf(
    clusterCfg({ podCIDR: '10.244.0.0/16', serviceCIDR: '10.96.0.0/16', ...(network ? { network } : {}) }),
    node('node1', { podCIDR: '10.244.1.0/24', ip: '10.0.0.11' }),
    node('node2', { podCIDR: '10.244.2.0/24', ip: '10.0.0.12' }),
    fixedPod('a', 'node1', '10.244.1.5'),
    fixedPod('b', 'node2', '10.244.2.7'),
    fixedPod('c', 'node1', '10.244.1.6'),
  );
}

function trace(
  network: Record<string, unknown> | undefined,
  p = icmpEcho('10.244.1.5', '10.244.2.7'),
): Travel {
  const snap = twoNodes(network);
  return start(world(snap), snap, 'node1', p);
}

describe('flannel vxlan: pod a on node1 to pod b on node2', () => {
  const t = trace({ plugin: 'flannel' });
  const f = frames(t);
  it('crosses eth0, the veth, cni0, flannel.1, the underlay, then the same in reverse on node2', () => {
    expect(t.end).toMatchObject({ kind: 'socket', ns: 'pod/ns/b' });
    expect(f.map((x) => x.at.replace(/veth[0-9a-f]{8}/, 'vethX'))).toEqual([
      'pod/ns/a/eth0 out',
      'node1/vethX in',
      'node1/cni0 in',
      'node1/flannel.1 out',
      'node1/eth0 out',
      'node2/eth0 in',
      'node2/flannel.1 in',
      'node2/cni0 out',
      'node2/vethX out',
      'pod/ns/b/eth0 in',
    ]);
  });
  it('TTL 64 leaving the pod, 63 on both flannel.1 devices, 62 at the far pod (measured)', () => {
    const ttl = (at: string) => f.find((x) => x.at === at)!.frame.packet.ttl;
    expect(ttl('pod/ns/a/eth0 out')).toBe(64);
    expect(ttl('node1/flannel.1 out')).toBe(63);
    expect(ttl('node2/flannel.1 in')).toBe(63);
    expect(ttl('pod/ns/b/eth0 in')).toBe(62);
  });
  it('the underlay frame: UDP 8472, VNI 1, outer length inner + 50, DF clear, TTL 64, source port in 32768-60999', () => {
    const u = f.find((x) => x.at === 'node1/eth0 out')!.frame;
    expect(u.packet).toMatchObject({ proto: 'udp', dport: 8472, df: false, ttl: 64 });
    expect(u.packet.src.text).toBe('10.0.0.11');
    expect(u.packet.dst.text).toBe('10.0.0.12');
    expect(u.vxlan?.vni).toBe(1);
    expect(u.packet.length).toBe(u.vxlan!.inner.packet.length + 50);
    expect(u.packet.sport).toBeGreaterThanOrEqual(32768);
    expect(u.packet.sport).toBeLessThanOrEqual(60999);
    expect(u.src).toBe(macOf('node1', 'eth0'));
    expect(u.dst).toBe(macOf('node2', 'eth0'));
    // The inner frame goes from node1's VTEP MAC to node2's (flannel's permanent neighbour entry).
    expect(u.vxlan!.inner.src).toBe(vtepMac('node1'));
    expect(u.vxlan!.inner.dst).toBe(vtepMac('node2'));
  });
  it('no ARP on flannel.1: the neighbour is PERMANENT', () => {
    const arp = t.steps.filter((s) => s.kind === 'l2' && s.what === 'arp' && s.dev === 'flannel.1');
    expect(arp).toHaveLength(1);
    expect(arp[0]!.kind === 'l2' && arp[0]!.text).toMatch(
      /10\.244\.2\.0 dev flannel\.1 lladdr .* PERMANENT \(no ARP\)/,
    );
  });
  it('one UDP source port per flow and direction', () => {
    const snap = twoNodes({ plugin: 'flannel' });
    const port = (t: Travel) =>
      frames(t).find((x) => x.at.endsWith('/eth0 out') && x.frame.vxlan)!.frame.packet.sport;
    const again = start(world(snap), snap, 'node1', icmpEcho('10.244.1.5', '10.244.2.7'));
    const back = start(world(snap), snap, 'node2', icmpEcho('10.244.2.7', '10.244.1.5'));
    expect(back.end).toMatchObject({ kind: 'socket', ns: 'pod/ns/a' });
    expect(port(again)).toBe(port(t));
    expect(port(back)).not.toBe(port(t));
  });
});

describe('other backends', () => {
  it('flannel host-gw: no encapsulation, TTL 63 on the underlay, the route via the node address', () => {
    const f = frames(trace({ plugin: 'flannel', backend: 'host-gw' }));
    const u = f.find((x) => x.at === 'node1/eth0 out')!.frame;
    expect(u.vxlan).toBeUndefined();
    expect(u.packet.ttl).toBe(63);
    expect(u.packet.dst.text).toBe('10.244.2.7');
    expect(u.dst).toBe(macOf('node2', 'eth0'));
  });
  it('calico: proxy ARP answers 169.254.1.1 with ee:ee:ee:ee:ee:ee on the cali veth named from sha1(ns.pod)', () => {
    const t = trace({ plugin: 'calico' });
    expect(t.end).toMatchObject({ kind: 'socket', ns: 'pod/ns/b' });
    const cali = `cali${createHash('sha1').update('ns.a').digest('hex').slice(0, 11)}`;
    const first = frames(t)[0]!;
    expect(first.at).toBe('pod/ns/a/eth0 out');
    expect(first.frame.dst).toBe('ee:ee:ee:ee:ee:ee');
    expect(frames(t)[1]!.at).toBe(`node1/${cali} in`);
    const arp = t.steps.find((s) => s.kind === 'l2' && s.what === 'arp');
    expect(arp?.kind === 'l2' && arp.text).toMatch(
      /who-has 169\.254\.1\.1 .*is-at ee:ee:ee:ee:ee:ee .*proxy ARP/,
    );
  });
  it('calico vxlan: vxlan.calico, VNI 4096, UDP 4789', () => {
    const u = frames(trace({ plugin: 'calico', backend: 'vxlan' })).find(
      (x) => x.at === 'node1/eth0 out',
    )!.frame;
    expect(u.packet.dport).toBe(4789);
    expect(u.vxlan?.vni).toBe(4096);
  });
  it('same-node pods are bridged: the bridge learns MACs and br_netfilter runs FORWARD on node1, TTL unchanged', () => {
    const t = trace(undefined, icmpEcho('10.244.1.5', '10.244.1.6'));
    expect(t.end).toMatchObject({ kind: 'socket', ns: 'pod/ns/c' });
    const stack = t.steps.filter((s) => s.kind === 'stack' && s.ns === 'node1');
    expect(stack).toHaveLength(1);
    expect(
      stack[0]!.kind === 'stack' &&
        stack[0]!.walk.stages.some((x) => x.kind === 'table' && x.hook === 'FORWARD'),
    ).toBe(true);
    expect(frames(t).at(-1)!.frame.packet.ttl).toBe(64);
    expect(t.steps.some((s) => s.kind === 'l2' && s.what === 'fdb' && /learned/.test(s.text))).toBe(true);
  });
});

describe('the MTU story (pod MTU 1450 under flannel vxlan)', () => {
  it('1422 bytes of ICMP payload fit; 1423 with DF fail in the sender with EMSGSIZE (measured)', () => {
    expect(trace({ plugin: 'flannel' }, icmpEcho('10.244.1.5', '10.244.2.7', 1422, true)).end.kind).toBe(
      'socket',
    );
    const t = trace({ plugin: 'flannel' }, icmpEcho('10.244.1.5', '10.244.2.7', 1423, true));
    expect(t.end).toMatchObject({ kind: 'stopped', ns: 'pod/ns/a', dev: 'eth0' });
    expect(t.end.kind === 'stopped' && t.end.reason).toMatch(/EMSGSIZE.*1451 bytes, eth0 mtu 1450/);
  });
  it('without DF the sender fragments: 1424 data bytes per fragment, the rest in the last', () => {
    const t = trace({ plugin: 'flannel' }, icmpEcho('10.244.1.5', '10.244.2.7', 1472));
    expect(t.end.kind).toBe('socket');
    expect(frames(t)[0]!.frame.fragments).toEqual([
      { offset: 0, length: 1444, mf: true },
      { offset: 1424, length: 76, mf: false },
    ]);
  });
  it('pods at 1500 over a 1450 overlay: node1 drops a DF packet and sends ICMP 3/4 mtu 1450 from the pod gateway (measured)', () => {
    const t = trace({ plugin: 'flannel', mtu: 1500 }, icmpEcho('10.244.1.5', '10.244.2.7', 1472, true));
    expect(t.end).toMatchObject({ kind: 'stopped', ns: 'node1', dev: 'flannel.1' });
    if (t.end.kind !== 'stopped') return;
    expect(t.end.icmp?.end).toMatchObject({ kind: 'socket', ns: 'pod/ns/a' });
    const err = t.end.icmp?.end.kind === 'socket' ? t.end.icmp.end.packet : undefined;
    expect(err?.icmp).toMatchObject({ type: 3, code: 4, mtu: 1450 });
    expect(err?.src.text).toBe('10.244.1.1');
  });
  it('by default (path MTU discovery) DF is set on what fits the sender: the same misconfiguration gets frag-needed', () => {
    const p = packet({
      proto: 'icmp',
      src: parseIP('10.244.1.5'),
      dst: parseIP('10.244.2.7'),
      icmp: { type: 8, code: 0, id: 7 },
      length: 1500,
    });
    const t = trace({ plugin: 'flannel', mtu: 1500 }, p);
    expect(frames(t)[0]!.frame.packet.df).toBe(true);
    expect(t.end).toMatchObject({ kind: 'stopped', ns: 'node1', dev: 'flannel.1' });
    // Too big for the sender itself: fragmented there, DF clear.
    const big = trace({ plugin: 'flannel' }, p);
    expect(frames(big)[0]!.frame.packet.df).toBe(false);
    expect(frames(big)[0]!.frame.fragments).toHaveLength(2);
  });
  it('checkMtu and fragmentsOf follow ip_fragment', () => {
    const p = tcp('10.0.0.1', '10.0.0.2', 80, { length: 1500, df: true });
    expect(checkMtu(p, 1500, false)).toEqual({ kind: 'fits' });
    expect(checkMtu(p, 1450, false)).toEqual({ kind: 'emsgsize', mtu: 1450 });
    expect(checkMtu(p, 1450, true)).toEqual({ kind: 'frag-needed', mtu: 1450 });
    // 3000 bytes (2980 of data) over 1500: (1500 - 20) / 8 * 8 = 1480 data bytes per fragment.
    expect(fragmentsOf(3000, 1500).map((x) => x.length)).toEqual([1500, 1500, 40]);
  });
});

describe('the bridge FDB', () => {
  it('learns, moves and ages out after 300 s; local entries never age', () => {
    const fdb = new BridgeFdb();
    fdb.addLocal('02:00:00:00:00:01', 'cni0', true);
    expect(fdb.learn('02:00:00:00:00:aa', 'veth1', 1000)).toBe('learned');
    expect(fdb.learn('02:00:00:00:00:aa', 'veth1', 2000)).toBe('refreshed');
    expect(fdb.learn('02:00:00:00:00:aa', 'veth2', 3000)).toBe('moved');
    expect(fdb.lookup('02:00:00:00:00:aa', 3000 + 299_999)?.port).toBe('veth2');
    expect(fdb.lookup('02:00:00:00:00:aa', 3000 + 300_000)).toBeUndefined();
    expect(fdb.lookup('02:00:00:00:00:01', 10_000_000)?.port).toBe('cni0');
  });
  it('derived MACs are unicast and locally administered, as eth_random_addr makes them', () => {
    for (const m of [macOf('node1', 'cni0'), vtepMac('node2'), macOf('pod/ns/a', 'eth0')]) {
      const b0 = Number.parseInt(m.slice(0, 2), 16);
      expect(b0 & 1).toBe(0);
      expect(b0 & 2).toBe(2);
    }
    expect(parseIP('10.0.0.1').text).toBe('10.0.0.1');
  });
});
