/**
 * `kpath net` against the real iproute2: the same flannel node and pod built in real network
 * namespaces (with kpath's MACs set on the devices), then `ip addr`, `ip link`, `ip route`,
 * `ip neigh` and `bridge fdb` compared with what kpath prints. Needs root and iproute2; the
 * namespaces are removed afterwards, also on failure.
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildHostNetwork, macOf, vethName, vtepMac } from '../../cni/index.js';
import {
  formatBridgeFdb,
  formatIpAddr,
  formatIpLink,
  formatIpNeigh,
  formatIpRoute,
} from '../../netmodel/kernel/index.js';
import { clusterCfg, node, snapshotOf } from '../helpers/cluster.js';
import { fixedPod } from './helpers.js';

const canRun =
  process.getuid?.() === 0 &&
  spawnSync('ip', ['-V']).status === 0 &&
  spawnSync('bridge', ['-V']).status === 0;
const tag = `kp-pn-${process.pid}`;
const N = `${tag}-n1`;
const P = `${tag}-pod`;
const U = `${tag}-u`;

const snap = snapshotOf(
  clusterCfg({ podCIDR: '10.244.0.0/16', network: { plugin: 'flannel' } }),
  node('node1', { podCIDR: '10.244.1.0/24', ip: '10.0.0.11' }),
  node('node2', { podCIDR: '10.244.2.0/24', ip: '10.0.0.12' }),
  fixedPod('a', 'node1', '10.244.1.2'),
);
const net = buildHostNetwork(snap);
const podA = snap.pod('ns', 'a')!;
const veth = vethName(podA);

function sh(ns: string, ...args: string[]): string {
  return execFileSync('ip', ['-n', ns, ...args], { encoding: 'utf8' });
}

function build(): void {
  for (const ns of [N, P, U]) {
    execFileSync('ip', ['netns', 'add', ns]);
    execFileSync('ip', ['netns', 'exec', ns, 'sysctl', '-qw', 'net.ipv6.conf.default.accept_dad=0']);
    execFileSync('ip', ['netns', 'exec', ns, 'sysctl', '-qw', 'net.ipv6.conf.all.accept_dad=0']);
    sh(ns, 'link', 'set', 'lo', 'up');
  }
  sh(
    N,
    'link',
    'add',
    'eth0',
    'address',
    macOf('node1', 'eth0'),
    'type',
    'veth',
    'peer',
    'name',
    'up0',
    'netns',
    U,
  );
  sh(U, 'link', 'set', 'up0', 'up');
  sh(N, 'link', 'set', 'eth0', 'up');
  sh(N, 'addr', 'add', '10.0.0.11/24', 'brd', '+', 'dev', 'eth0');
  sh(N, 'link', 'add', 'cni0', 'type', 'bridge');
  sh(N, 'link', 'set', 'cni0', 'address', macOf('node1', veth), 'mtu', '1450', 'up');
  sh(N, 'addr', 'add', '10.244.1.1/24', 'brd', '+', 'dev', 'cni0');
  sh(
    N,
    'link',
    'add',
    veth,
    'mtu',
    '1450',
    'address',
    macOf('node1', veth),
    'type',
    'veth',
    'peer',
    'name',
    'eth0',
    'mtu',
    '1450',
    'address',
    macOf('pod/ns/a', 'eth0'),
    'netns',
    P,
  );
  sh(N, 'link', 'set', veth, 'master', 'cni0', 'up');
  sh(P, 'link', 'set', 'eth0', 'up');
  sh(P, 'addr', 'add', '10.244.1.2/24', 'brd', '+', 'dev', 'eth0');
  sh(P, 'route', 'add', 'default', 'via', '10.244.1.1', 'dev', 'eth0');
  sh(
    N,
    'link',
    'add',
    'flannel.1',
    'address',
    vtepMac('node1'),
    'type',
    'vxlan',
    'id',
    '1',
    'local',
    '10.0.0.11',
    'dev',
    'eth0',
    'dstport',
    '8472',
    'nolearning',
  );
  sh(N, 'link', 'set', 'flannel.1', 'mtu', '1450', 'up');
  sh(N, 'addr', 'add', '10.244.1.0/32', 'dev', 'flannel.1');
  sh(N, 'neigh', 'add', '10.244.2.0', 'lladdr', vtepMac('node2'), 'dev', 'flannel.1', 'nud', 'permanent');
  execFileSync('bridge', [
    '-n',
    N,
    'fdb',
    'append',
    vtepMac('node2'),
    'dev',
    'flannel.1',
    'dst',
    '10.0.0.12',
    'self',
    'permanent',
  ]);
  sh(N, 'route', 'add', '10.244.2.0/24', 'via', '10.244.2.0', 'dev', 'flannel.1', 'onlink');
  sh(N, 'route', 'add', 'default', 'via', '10.0.0.1', 'dev', 'eth0');
}

/**
 * Real pod namespaces are named (/run/netns/cni-...), so the node's iproute2 prints `link-netns
 * NAME` where kpath, which has no such names, prints `link-netnsid N`; the test's namespaces are all
 * named, so both spellings are made one.
 */
function netnsNamed(t: string): string {
  return t.replace(/link-netns(id)? \S+/g, 'link-netns X');
}

/** The blocks of `ip addr`/`ip link` by interface name (the eth0 uplink differs: a veth here, a NIC in kpath). */
function blocks(text: string): Map<string, string> {
  const out = new Map<string, string>();
  for (const b of text.split(/(?=^\d+: )/m)) {
    const name = /^\d+: ([^:@]+)/.exec(b)?.[1];
    if (name) out.set(name, netnsNamed(b));
  }
  return out;
}

describe.skipIf(!canRun)('kpath net prints what iproute2 prints (real namespaces)', () => {
  beforeAll(build);
  afterAll(() => {
    for (const ns of [N, P, U]) spawnSync('ip', ['netns', 'del', ns]);
  });
  const pod = net.ns('pod/ns/a')!;
  const n1 = net.nodes.get('node1')!;
  it('the pod: ip addr, ip link and ip route, all of it', () => {
    expect(netnsNamed(formatIpAddr(pod, { world: net, ns: 'pod/ns/a' }))).toBe(netnsNamed(sh(P, 'addr')));
    expect(netnsNamed(formatIpLink(pod, { world: net, ns: 'pod/ns/a' }))).toBe(netnsNamed(sh(P, 'link')));
    expect(formatIpRoute(pod)).toBe(sh(P, 'route'));
  });
  it('the node: ip route, ip neigh, and the cni0, veth and flannel.1 blocks of ip addr and ip link', () => {
    expect(formatIpRoute(n1)).toBe(sh(N, 'route'));
    expect(formatIpNeigh(n1)).toBe(sh(N, 'neigh'));
    for (const cmd of ['addr', 'link'] as const) {
      const real = blocks(sh(N, cmd));
      const ours = blocks(
        cmd === 'addr'
          ? formatIpAddr(n1, { world: net, ns: 'node1' })
          : formatIpLink(n1, { world: net, ns: 'node1' }),
      );
      for (const dev of ['lo', 'cni0', veth, 'flannel.1'])
        expect(ours.get(dev), `${cmd} ${dev}`).toBe(real.get(dev));
    }
  });
  it('bridge fdb: the same entries for cni0, the veth and flannel.1', () => {
    const pick = (t: string) =>
      t
        .split('\n')
        .filter((l) => / dev (cni0|veth[0-9a-f]{8}|flannel\.1) /.test(l))
        .sort();
    expect(pick(formatBridgeFdb(n1))).toEqual(
      pick(execFileSync('bridge', ['-n', N, 'fdb'], { encoding: 'utf8' })),
    );
  });
});
