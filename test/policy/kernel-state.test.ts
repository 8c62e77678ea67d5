/**
 * What a policy-dropped first packet leaves in the entry node's emulated kernel under `kpath up`
 * (iptables and ipvs modes). CNIs drop in filter FORWARD (or OUTPUT), before conntrack confirms the
 * entry at POSTROUTING (nf_conntrack_confirm at the last hook): an unconfirmed entry is freed with
 * its packet and never enters the table. So a SYN dropped on the entry node leaves no entry there;
 * one that the entry node forwarded and another node's pod dropped leaves the entry node's
 * SYN_SENT [UNREPLIED] entry, with no handshake after it; an allowed flow becomes ESTABLISHED.
 */
import pino from 'pino';
import { describe, expect, it } from 'vitest';
import { parseIP } from '../../netmodel/addr.js';
import { buildCluster, type ClusterSnapshot } from '../../netmodel/cluster/index.js';
import { SeededRng } from '../../netmodel/rng.js';
import { programIpvs } from '../../proxy/ipvs/index.js';
import { PolicyGate, RuntimeMetrics } from '../../proxy/runtime/index.js';
import { IptablesMode } from '../../proxy/runtime/modes/iptables.js';
import type { FlowRequest } from '../../proxy/runtime/modes/types.js';
import { node, pod, yamlOf } from '../helpers/cluster.js';

type Obj = Record<string, unknown>;

const policy = (name: string, spec: Obj): Obj => ({
  apiVersion: 'networking.k8s.io/v1',
  kind: 'NetworkPolicy',
  metadata: { name, namespace: 'default' },
  spec,
});

/** client on node-1; the service's one endpoint on node-1 (near) or node-2 (far). */
function cluster(where: 'near' | 'far', mode: 'iptables' | 'ipvs', ...policies: Obj[]): ClusterSnapshot {
  const text = yamlOf(
    { apiVersion: 'kubeproxy.config.k8s.io/v1alpha1', kind: 'KubeProxyConfiguration', mode },
    node('node-1', { podCIDR: '10.244.1.0/24', ip: '10.0.0.11' }),
    node('node-2', { podCIDR: '10.244.2.0/24', ip: '10.0.0.12' }),
    pod('client', {
      nodeName: 'node-1',
      labels: { app: 'client' },
      status: { phase: 'Running', podIP: '10.244.1.2' },
    }),
    pod('server', {
      nodeName: where === 'near' ? 'node-1' : 'node-2',
      labels: { app: 'server' },
      ports: [{ name: 'http', containerPort: 8080 }],
      status: { phase: 'Running', podIP: where === 'near' ? '10.244.1.9' : '10.244.2.9' },
    }),
    {
      apiVersion: 'v1',
      kind: 'Service',
      metadata: { name: 'server', namespace: 'default' },
      spec: {
        clusterIP: '10.96.0.40',
        selector: { app: 'server' },
        ports: [{ port: 80, targetPort: 'http' }],
      },
    },
    ...policies,
  );
  const r = buildCluster([{ file: 'c.yaml', text }]);
  if (!r.ok) throw new Error(r.diagnostics.map((d) => d.message).join('\n'));
  return r.snapshot;
}

const DENY_EGRESS = policy('client-out', {
  podSelector: { matchLabels: { app: 'client' } },
  policyTypes: ['Egress'],
});
const DENY_INGRESS = policy('server-in', {
  podSelector: { matchLabels: { app: 'server' } },
  policyTypes: ['Ingress'],
});

function run(snap: ClusterSnapshot, mode: 'iptables' | 'ipvs') {
  const clock = { now: () => 1000 };
  const m = new IptablesMode({ clock, rng: new SeededRng(1), kernelMode: mode, ipvs: programIpvs });
  const gate = new PolicyGate({
    reject: false,
    clock,
    metrics: new RuntimeMetrics({ processMetrics: false }),
    log: pino({ level: 'silent' }),
  });
  const wrapped = gate.wrap(m);
  wrapped.sync(snap);
  const flow: FlowRequest = {
    protocol: 'TCP',
    client: { ip: parseIP('10.244.1.2'), port: 40000 },
    clientIsNodeProcess: false,
    destination: { ip: parseIP('10.96.0.40'), port: 80 },
    entryNode: 'node-1',
    entry: 'ClusterIP',
    servicePort: 'default/server:',
  };
  const d = wrapped.decide(flow, 0);
  const entries = m
    .datapath()!
    .node('node-1')
    .conntrack.entries(clock.now())
    .filter((e) => e.original.src.text === '10.244.1.2' && e.original.sport === 40000);
  return { decision: d.kind, states: entries.map((e) => e.tcpState), denials: gate.denials().length };
}

describe.each(['iptables', 'ipvs'] as const)('a policy-dropped SYN in the entry node (%s mode)', (mode) => {
  it('allowed: the handshake is walked, the entry is ESTABLISHED', () => {
    expect(run(cluster('far', mode), mode)).toEqual({
      decision: 'forward',
      states: ['ESTABLISHED'],
      denials: 0,
    });
  });

  it('denied by egress at the client pod (on the entry node): no entry', () => {
    expect(run(cluster('far', mode, DENY_EGRESS), mode)).toEqual({
      decision: 'drop',
      states: [],
      denials: 1,
    });
  });

  it('denied by ingress at a pod on the entry node: no entry', () => {
    expect(run(cluster('near', mode, DENY_INGRESS), mode)).toEqual({
      decision: 'drop',
      states: [],
      denials: 1,
    });
  });

  it("denied by ingress at another node's pod: the entry node forwarded it, SYN_SENT and no handshake", () => {
    expect(run(cluster('far', mode, DENY_INGRESS), mode)).toEqual({
      decision: 'drop',
      states: ['SYN_SENT'],
      denials: 1,
    });
  });
});
