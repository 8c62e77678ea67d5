/**
 * NetworkPolicy validation and defaulting as the apiserver does them
 * (kubernetes pkg/apis/networking/validation/validation.go ValidateNetworkPolicySpec,
 * pkg/apis/networking/v1/defaults.go SetDefaults_NetworkPolicy / SetDefaults_NetworkPolicyPort).
 */
import { describe, expect, it } from 'vitest';
import { formatDiagnostic } from '../../netmodel/cluster/index.js';
import { build, errorsOf, snapshotOf } from '../helpers/cluster.js';

type Obj = Record<string, unknown>;
const np = (spec: Obj, name = 'p'): Obj => ({
  apiVersion: 'networking.k8s.io/v1',
  kind: 'NetworkPolicy',
  metadata: { name, namespace: 'default' },
  spec,
});

function expectError(spec: Obj, field: string, fragment: RegExp) {
  const errors = errorsOf(np(spec));
  const hit = errors.find((e) => e.field === field);
  expect(hit, `no error on ${field}; got:\n${errors.map(formatDiagnostic).join('\n')}`).toBeDefined();
  expect(hit!.message).toMatch(fragment);
  expect(hit!.pos?.file).toBe('test.yaml');
  expect(hit!.pos?.line).toBeGreaterThan(1);
}

describe('NetworkPolicy validation', () => {
  it('ipBlock: an invalid CIDR, an except outside the block, an except equal to the block', () => {
    expectError(
      { podSelector: {}, ingress: [{ from: [{ ipBlock: { cidr: '10.0.0.0/33' } }] }] },
      'spec.ingress[0].from[0].ipBlock.cidr',
      /invalid CIDR/,
    );
    expectError(
      { podSelector: {}, ingress: [{ from: [{ ipBlock: { cidr: '10.1.2.3' } }] }] },
      'spec.ingress[0].from[0].ipBlock.cidr',
      /invalid CIDR/,
    );
    expectError(
      { podSelector: {}, egress: [{ to: [{ ipBlock: { cidr: '10.0.0.0/16', except: ['10.1.0.0/24'] } }] }] },
      'spec.egress[0].to[0].ipBlock.except[0]',
      /strict subset of `cidr`/,
    );
    expectError(
      { podSelector: {}, egress: [{ to: [{ ipBlock: { cidr: '10.0.0.0/16', except: ['10.0.0.0/16'] } }] }] },
      'spec.egress[0].to[0].ipBlock.except[0]',
      /strict subset/,
    );
    expectError(
      { podSelector: {}, egress: [{ to: [{ ipBlock: { except: ['10.0.0.0/24'] } }] }] },
      'spec.egress[0].to[0].ipBlock.cidr',
      /Required/,
    );
  });

  it('peers: none given, or ipBlock mixed with a selector', () => {
    expectError(
      { podSelector: {}, ingress: [{ from: [{}] }] },
      'spec.ingress[0].from[0]',
      /must specify a peer/,
    );
    expectError(
      { podSelector: {}, ingress: [{ from: [{ ipBlock: { cidr: '10.0.0.0/8' }, podSelector: {} }] }] },
      'spec.ingress[0].from[0]',
      /may not specify both ipBlock and another peer/,
    );
  });

  it('ports: endPort without a numeric port, below port, out of range; bad names and protocols', () => {
    expectError(
      { podSelector: {}, ingress: [{ ports: [{ endPort: 90 }] }] },
      'spec.ingress[0].ports[0].endPort',
      /may not be specified when `port` is not specified/,
    );
    expectError(
      { podSelector: {}, ingress: [{ ports: [{ port: 'http', endPort: 90 }] }] },
      'spec.ingress[0].ports[0].endPort',
      /non-numeric/,
    );
    expectError(
      { podSelector: {}, ingress: [{ ports: [{ port: 100, endPort: 90 }] }] },
      'spec.ingress[0].ports[0].endPort',
      /greater than or equal to `port`/,
    );
    expectError(
      { podSelector: {}, ingress: [{ ports: [{ port: 100, endPort: 70000 }] }] },
      'spec.ingress[0].ports[0].endPort',
      /between 1 and 65535/,
    );
    expectError(
      { podSelector: {}, ingress: [{ ports: [{ port: 0 }] }] },
      'spec.ingress[0].ports[0].port',
      /between 1 and 65535/,
    );
    expectError(
      { podSelector: {}, ingress: [{ ports: [{ port: 'Web_Port' }] }] },
      'spec.ingress[0].ports[0].port',
      /alpha-numeric/,
    );
    expectError(
      { podSelector: {}, ingress: [{ ports: [{ port: 80, protocol: 'ICMP' }] }] },
      'spec.ingress[0].ports[0].protocol',
      /supported values: "TCP", "UDP", "SCTP"/,
    );
  });

  it('selectors and policyTypes', () => {
    expectError(
      { podSelector: { matchLabels: { 'bad key!': 'x' } } },
      'spec.podSelector.matchLabels.bad key!',
      /invalid label key/,
    );
    expectError(
      { podSelector: { matchExpressions: [{ key: 'a', operator: 'In', values: [] }] } },
      'spec.podSelector.matchExpressions[0].values',
      /non-empty/,
    );
    expectError(
      { podSelector: {}, policyTypes: ['Ingress', 'Sideways'] },
      'spec.policyTypes[1]',
      /supported values: "Ingress", "Egress"/,
    );
    expectError(
      { podSelector: {}, policyTypes: ['Ingress', 'Egress', 'Ingress'] },
      'spec.policyTypes',
      /more than two/,
    );
  });

  it('defaults: policyTypes Ingress, plus Egress only when egress rules are written; protocol TCP', () => {
    const s = snapshotOf(
      np({ podSelector: {} }, 'a'),
      np({ podSelector: {}, egress: [{}] }, 'b'),
      np({ podSelector: {}, egress: [] }, 'c'),
      np({ podSelector: {}, policyTypes: ['Egress'] }, 'd'),
      np({ podSelector: {}, ingress: [{ ports: [{ port: 80 }, { port: 'dns', protocol: 'UDP' }] }] }, 'e'),
    );
    const by = new Map(s.networkPolicies.map((p) => [p.meta.name, p]));
    expect(by.get('a')!.policyTypes).toEqual(['Ingress']);
    expect(by.get('b')!.policyTypes).toEqual(['Ingress', 'Egress']);
    expect(by.get('c')!.policyTypes).toEqual(['Ingress']);
    expect(by.get('d')!.policyTypes).toEqual(['Egress']);
    expect(by.get('e')!.ingress[0]!.ports).toEqual([
      { protocol: 'TCP', port: 80 },
      { protocol: 'UDP', port: 'dns' },
    ]);
    // Each rule keeps where it was written, for traces.
    expect(by.get('e')!.ingress[0]!.origin).toMatch(/^test\.yaml:\d+$/);
  });

  it('an absent podSelector selects every pod, with a warning', () => {
    const r = build(np({ ingress: [] }));
    expect(r.ok).toBe(true);
    const w = r.diagnostics.find((d) => d.field === 'spec.podSelector');
    expect(w?.severity).toBe('warning');
    expect(w?.message).toMatch(/selects every pod/);
  });

  it('a valid policy with every peer kind loads', () => {
    expect(
      errorsOf(
        np({
          podSelector: { matchLabels: { app: 'db' } },
          policyTypes: ['Ingress', 'Egress'],
          ingress: [
            {
              from: [
                {
                  podSelector: { matchLabels: { app: 'web' } },
                  namespaceSelector: { matchLabels: { team: 'a' } },
                },
                { ipBlock: { cidr: '192.168.0.0/16', except: ['192.168.1.0/24'] } },
              ],
              ports: [{ port: 5432 }, { port: 6000, endPort: 6010, protocol: 'UDP' }],
            },
          ],
          egress: [{ to: [{ namespaceSelector: {} }], ports: [{ port: 53, protocol: 'UDP' }] }],
        }),
      ),
    ).toEqual([]);
  });

  it('namespaces carry kubernetes.io/metadata.name, declared or derived, and it cannot be overridden', () => {
    const s = snapshotOf({
      apiVersion: 'v1',
      kind: 'Namespace',
      metadata: { name: 'prod', labels: { 'kubernetes.io/metadata.name': 'other', team: 'a' } },
    });
    const prod = s.namespaces.find((n) => n.meta.name === 'prod')!;
    expect(prod.meta.labels).toEqual({ 'kubernetes.io/metadata.name': 'prod', team: 'a' });
    const def = s.namespaces.find((n) => n.meta.name === 'default')!;
    expect(def.meta.labels['kubernetes.io/metadata.name']).toBe('default');
  });
});
