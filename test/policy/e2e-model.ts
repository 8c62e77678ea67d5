/**
 * The sig-network e2e suite's model, restated (kubernetes test/e2e/network/netpol/model.go,
 * reachability.go): namespaces x, y, z with pods a, b, c labelled pod=<name>, each serving ports 80
 * and 81 over TCP, UDP and SCTP on container ports named serve-<port>-<proto>; expected reachability
 * written as the suite writes it (ExpectPeer, ExpectAllIngress, ...) and compared ignoring loopback.
 */
import { expect } from 'vitest';
import type { Protocol } from '../../netmodel/cluster/index.js';
import { PolicyEngine, reachability, truthTable } from '../../netmodel/policy/index.js';
import { node, snapshotOf } from '../helpers/cluster.js';

type Obj = Record<string, unknown>;

export const NAMESPACES = ['x', 'y', 'z'];
export const PODS = ['a', 'b', 'c'];

/** Label changes a case makes (AddNamespaceLabel, AddPodLabels in the suite). */
export interface Relabel {
  readonly namespaces?: Record<string, Record<string, string>>;
  readonly pods?: Record<string, Record<string, string>>;
}

function e2ePod(ns: string, name: string, extra: Record<string, string> = {}): Obj {
  const containers = [80, 81].flatMap((port) =>
    ['TCP', 'UDP', 'SCTP'].map((proto) => ({
      name: `cont-${port}-${proto.toLowerCase()}`,
      image: 'kpath/echo',
      ports: [{ containerPort: port, name: `serve-${port}-${proto.toLowerCase()}`, protocol: proto }],
    })),
  );
  return {
    apiVersion: 'v1',
    kind: 'Pod',
    metadata: { name, namespace: ns, labels: { pod: name, ...extra } },
    spec: { containers },
  };
}

/**
 * A policy in the suite's shape (GenNetworkPolicyWithNameAndPodSelector + SetSpec*Rules): as
 * policies.go does, SetSpecIngressRules adds policyType Ingress and SetSpecEgressRules adds Egress,
 * so `ingress` or `egress` written here (even empty) sets policyTypes, unless the case gives them.
 */
export function policy(ns: string, name: string, spec: Obj): Obj {
  const types = [...('ingress' in spec ? ['Ingress'] : []), ...('egress' in spec ? ['Egress'] : [])];
  return {
    apiVersion: 'networking.k8s.io/v1',
    kind: 'NetworkPolicy',
    metadata: { name, namespace: ns },
    spec: { ...('policyTypes' in spec || types.length === 0 ? {} : { policyTypes: types }), ...spec },
  };
}

export function cluster(policies: Obj[], pods: string[] = allPods(), relabel: Relabel = {}) {
  const docs: Obj[] = [
    node('node-1', { podCIDR: '10.244.0.0/24', ip: '10.0.0.11' }),
    node('node-2', { podCIDR: '10.244.1.0/24', ip: '10.0.0.12' }),
    ...NAMESPACES.map((n) => ({
      apiVersion: 'v1',
      kind: 'Namespace',
      metadata: { name: n, labels: relabel.namespaces?.[n] ?? {} },
    })),
    ...pods.map((p) => e2ePod(p.split('/')[0]!, p.split('/')[1]!, relabel.pods?.[p])),
    ...policies,
  ];
  return snapshotOf(...docs);
}

export function allPods(): string[] {
  return NAMESPACES.flatMap((ns) => PODS.map((p) => `${ns}/${p}`));
}

export interface Peer {
  namespace?: string;
  pod?: string;
}

/** The suite's Reachability: expected[from][to], defaulting to `def`. */
export class Reachability {
  readonly expected = new Map<string, Map<string, boolean>>();
  constructor(
    readonly pods: string[],
    def: boolean,
  ) {
    for (const f of pods) this.expected.set(f, new Map(pods.map((t) => [t, def])));
  }
  expect(from: string, to: string, v: boolean): this {
    this.expected.get(from)!.set(to, v);
    return this;
  }
  expectPeer(from: Peer, to: Peer, v: boolean): this {
    const m = (p: Peer, s: string) =>
      (!p.namespace || p.namespace === s.split('/')[0]) && (!p.pod || p.pod === s.split('/')[1]);
    for (const f of this.pods) for (const t of this.pods) if (m(from, f) && m(to, t)) this.expect(f, t, v);
    return this;
  }
  expectAllIngress(to: string, v: boolean): this {
    for (const f of this.pods) this.expect(f, to, v);
    return this;
  }
  expectAllEgress(from: string, v: boolean): this {
    for (const t of this.pods) this.expect(from, t, v);
    return this;
  }
}

/** Compare the engine's matrix with the expectation, ignoring loopback as the suite does. */
export function validate(
  policies: Obj[],
  r: Reachability,
  port: number,
  protocol: Protocol,
  pods: string[] = r.pods,
  relabel: Relabel = {},
): void {
  const snap = cluster(policies, pods, relabel);
  const m = reachability(new PolicyEngine(snap), snap.pods, port, protocol);
  const wrong: string[] = [];
  for (const f of r.pods)
    for (const t of r.pods) {
      if (f === t) continue;
      if (m.allowed[f]![t] !== r.expected.get(f)!.get(t)) wrong.push(`${f} -> ${t}`);
    }
  const expected = truthTable({
    port,
    protocol,
    pods: r.pods,
    allowed: Object.fromEntries(r.pods.map((f) => [f, Object.fromEntries(r.expected.get(f)!)])),
  });
  expect(wrong, `observed:\n${truthTable(m)}\nexpected:\n${expected}`).toEqual([]);
}
