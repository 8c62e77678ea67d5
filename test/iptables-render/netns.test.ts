/**
 * Loads rendered payloads into the real kernel with iptables-restore, inside a network namespace this
 * test creates and deletes. Never touches the host's own ruleset.
 */
import { execFileSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { renderNode, renderPartialSync, setupCommands } from '../../proxy/iptables/index.js';
import { cluster, kpCluster, namespaces, service, slice, TEST_NODE, testNode } from './helpers.js';

const NS = `kpath-ipt-${process.pid}`;
const bins = ['/usr/sbin/iptables-restore', '/usr/sbin/iptables-save', '/usr/sbin/ip'];
const isRoot = typeof process.getuid === 'function' && process.getuid() === 0;
const missing = bins.filter((b) => !existsSync(b));
const skipReason = !isRoot
  ? 'needs root to create a network namespace'
  : missing.length
    ? `missing ${missing.join(', ')} (apt-get install -y iptables iproute2)`
    : '';

let nsReady = false;
function inNs(args: string[], input?: string): string {
  return execFileSync('ip', ['netns', 'exec', NS, ...args], {
    input,
    encoding: 'utf8',
    stdio: ['pipe', 'pipe', 'pipe'],
  });
}
function sh(cmd: string): void {
  // setupCommands quote with single quotes, so split like a shell would for our simple form.
  const args = cmd.match(/'[^']*'|\S+/g)!.map((a) => a.replace(/^'|'$/g, ''));
  inNs(args);
}

const p80 = [{ name: 'p80', port: 80, protocol: 'TCP' }];
const docs = [
  kpCluster(),
  testNode(),
  ...namespaces('ns1', 'ns2', 'ns5'),
  service('ns1', 'svc1', { clusterIP: '172.30.0.41', ports: p80 }),
  service(
    'ns2',
    'svc2',
    {
      type: 'LoadBalancer',
      externalTrafficPolicy: 'Local',
      clusterIP: '172.30.0.42',
      externalIPs: ['192.168.99.22'],
      ports: [{ name: 'p80', port: 80, nodePort: 3001 }],
    },
    { loadBalancer: { ingress: [{ ip: '1.2.3.4' }] } },
  ),
  service(
    'ns5',
    'svc5',
    {
      type: 'LoadBalancer',
      clusterIP: '172.30.0.45',
      ports: [{ name: 'p80', port: 80, nodePort: 3002 }],
      loadBalancerSourceRanges: ['203.0.113.0/25', '192.168.0.0/24'],
      sessionAffinity: 'ClientIP',
    },
    { loadBalancer: { ingress: [{ ip: '5.6.7.8' }] } },
  ),
  service('ns1', 'empty', { clusterIP: '172.30.0.46', ports: p80 }),
  slice('ns1', 'svc1', p80, [{ ip: '10.180.0.1' }, { ip: '10.180.0.9' }, { ip: '10.180.0.10' }]),
  slice('ns2', 'svc2', p80, [
    { ip: '10.180.0.2', node: TEST_NODE },
    { ip: '10.180.0.7', ready: false, serving: true, terminating: true, node: TEST_NODE },
  ]),
  slice('ns5', 'svc5', p80, [{ ip: '10.180.0.3' }, { ip: '10.180.0.4' }]),
];

describe.skipIf(skipReason !== '')(
  `iptables-restore in a network namespace${skipReason ? ` (skipped: ${skipReason})` : ''}`,
  () => {
    beforeAll(() => {
      execFileSync('ip', ['netns', 'add', NS]);
      nsReady = true;
    });
    afterAll(() => {
      if (nsReady) execFileSync('ip', ['netns', 'delete', NS]);
    });

    it('loads the full payload after kube-proxy-style setup, then a partial one', () => {
      const snap = cluster(...docs);
      const full = renderNode(snap, TEST_NODE);
      for (const cmd of setupCommands()) sh(cmd);
      inNs(['iptables-restore', '--noflush', '--counters'], full.restore);
      const saved = inNs(['iptables-save']);
      for (const ch of [...full.chains.nat, ...full.chains.filter]) expect(saved).toContain(`:${ch} `);
      expect(saved).toContain(
        '-A PREROUTING -m comment --comment "kubernetes service portals" -j KUBE-SERVICES',
      );
      expect(saved).toContain(':KUBE-PROXY-CANARY - [0:0]');

      // Remove svc1's third endpoint and delete ns1/empty: a partial sync with -X.
      const next = cluster(
        ...docs
          .filter((d) => (d.metadata as { name?: string }).name !== 'empty')
          .map((d) =>
            (d as { kind: string; metadata: { name: string } }).kind === 'EndpointSlice' &&
            (d as { metadata: { name: string } }).metadata.name === 'svc1-1'
              ? slice('ns1', 'svc1', p80, [{ ip: '10.180.0.1' }, { ip: '10.180.0.9' }])
              : d,
          ),
      );
      const partial = renderPartialSync(snap, next, TEST_NODE, full.state);
      expect(partial.deletedChains).toHaveLength(1);
      inNs(['iptables-restore', '--noflush', '--counters'], partial.restore);
      const after = inNs(['iptables-save', '-t', 'nat']);
      expect(after).not.toContain(partial.deletedChains[0]!);
      // The kernel's view of nat chains equals the state the renderer tracks.
      const kernel = new Set(
        [...after.matchAll(/^:(KUBE-\S+)/gm)].map((m) => m[1]!).filter((c) => c !== 'KUBE-PROXY-CANARY'),
      );
      expect(kernel).toEqual(new Set(partial.state.natChains));
      // A repeated full sync on top is accepted too (idempotent).
      inNs(['iptables-restore', '--noflush', '--counters'], renderNode(next, TEST_NODE).restore);
    });
  },
);
