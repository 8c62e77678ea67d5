/**
 * The sig-network NetworkPolicy e2e cases (kubernetes test/e2e/network/netpol/network_policy.go),
 * restated as truth tables over namespaces x, y, z and pods a, b, c. Each case names the upstream
 * `It(...)` it restates; the policies and the expectations are written as upstream writes them.
 */
import { describe, it } from 'vitest';
import { allPods, policy, Reachability, validate } from './e2e-model.js';

const NS = 'kubernetes.io/metadata.name';
const podA = { matchLabels: { pod: 'a' } };
const pods = (...p: string[]) => p;

describe('e2e netpol: NetworkPolicy between server and client', () => {
  it("should support a 'default-deny-ingress' policy", () => {
    const p = pods('x/a', 'x/b', 'y/a', 'y/b');
    const r = new Reachability(p, true).expectPeer({}, { namespace: 'x' }, false);
    validate([policy('x', 'deny-ingress', { podSelector: {}, ingress: [] })], r, 80, 'TCP');
  });

  it("should support a 'default-deny-all' policy", () => {
    const p = pods('x/a', 'x/b', 'y/a');
    const r = new Reachability(p, true)
      .expectPeer({}, { namespace: 'x' }, false)
      .expectPeer({ namespace: 'x' }, {}, false);
    validate(
      [policy('x', 'deny-all', { podSelector: {}, policyTypes: ['Ingress', 'Egress'] })],
      r,
      80,
      'TCP',
    );
  });

  it('should enforce policy to allow traffic from pods within server namespace based on PodSelector', () => {
    const r = new Reachability(pods('x/a', 'x/b', 'x/c', 'y/a'), true)
      .expectAllIngress('x/a', false)
      .expect('x/b', 'x/a', true);
    validate(
      [
        policy('x', 'x-a-allows-x-b', {
          podSelector: podA,
          ingress: [{ from: [{ podSelector: { matchLabels: { pod: 'b' } } }] }],
        }),
      ],
      r,
      80,
      'TCP',
    );
  });

  it('should enforce policy to allow ingress traffic for a target', () => {
    const r = new Reachability(pods('x/a', 'x/b', 'y/a'), true)
      .expectAllIngress('x/a', true)
      .expectAllIngress('x/b', false);
    validate(
      [
        policy('x', 'deny-all', { podSelector: {}, ingress: [] }),
        policy('x', 'allow-all-to-a', {
          podSelector: podA,
          ingress: [{ from: [{ podSelector: {}, namespaceSelector: {} }] }],
        }),
      ],
      r,
      80,
      'TCP',
    );
  });

  it('should enforce policy to allow ingress traffic from pods in all namespaces', () => {
    const r = new Reachability(pods('x/a', 'x/b', 'y/a', 'z/a'), true);
    validate(
      [
        policy('x', 'allow-from-another-ns', {
          podSelector: podA,
          ingress: [{ from: [{ namespaceSelector: { matchLabels: {} } }] }],
        }),
      ],
      r,
      80,
      'TCP',
    );
  });

  it('should enforce policy to allow traffic only from a different namespace, based on NamespaceSelector', () => {
    const r = new Reachability(pods('x/a', 'x/b', 'y/a', 'z/a'), true)
      .expectPeer({ namespace: 'x' }, { namespace: 'x', pod: 'a' }, false)
      .expectPeer({ namespace: 'z' }, { namespace: 'x', pod: 'a' }, false);
    validate(
      [
        policy('x', 'allow-client-a-via-ns-selector', {
          podSelector: podA,
          ingress: [{ from: [{ namespaceSelector: { matchLabels: { [NS]: 'y' } } }] }],
        }),
      ],
      r,
      80,
      'TCP',
    );
  });

  it('should enforce policy based on NamespaceSelector with MatchExpressions', () => {
    const r = new Reachability(pods('x/a', 'x/b', 'y/a', 'z/a'), true)
      .expectPeer({ namespace: 'x' }, { namespace: 'x', pod: 'a' }, false)
      .expectPeer({ namespace: 'z' }, { namespace: 'x', pod: 'a' }, false);
    validate(
      [
        policy('x', 'allow-ns-y-match-selector', {
          podSelector: podA,
          ingress: [
            {
              from: [
                { namespaceSelector: { matchExpressions: [{ key: NS, operator: 'In', values: ['y'] }] } },
              ],
            },
          ],
        }),
      ],
      r,
      80,
      'TCP',
    );
  });

  it('should enforce policy based on PodSelector or NamespaceSelector (OR across peers)', () => {
    const r = new Reachability(pods('x/a', 'x/b', 'x/c', 'y/a'), true)
      .expect('x/a', 'x/a', false)
      .expect('x/c', 'x/a', false);
    validate(
      [
        policy('x', 'allow-ns-y-match-selector', {
          podSelector: podA,
          ingress: [
            {
              from: [
                { namespaceSelector: { matchExpressions: [{ key: NS, operator: 'NotIn', values: ['x'] }] } },
                { podSelector: { matchLabels: { pod: 'b' } } },
              ],
            },
          ],
        }),
      ],
      r,
      80,
      'TCP',
    );
  });

  it('should enforce policy based on PodSelector and NamespaceSelector (AND in one peer)', () => {
    const r = new Reachability(pods('x/a', 'x/b', 'y/a', 'y/b', 'z/b'), true)
      .expectAllIngress('x/a', false)
      .expect('y/b', 'x/a', true)
      .expect('z/b', 'x/a', true);
    validate(
      [
        policy('x', 'allow-ns-y-podselector-and-nsselector', {
          podSelector: podA,
          ingress: [
            {
              from: [
                {
                  namespaceSelector: { matchExpressions: [{ key: NS, operator: 'NotIn', values: ['x'] }] },
                  podSelector: { matchLabels: { pod: 'b' } },
                },
              ],
            },
          ],
        }),
      ],
      r,
      80,
      'TCP',
    );
  });

  it('should enforce policy based on any PodSelectors', () => {
    const r = new Reachability(pods('x/a', 'x/b', 'x/c'), true)
      .expectAllIngress('x/a', false)
      .expect('x/b', 'x/a', true)
      .expect('x/c', 'x/a', true);
    validate(
      [
        policy('x', 'allow-ns-x-pod-b-c', {
          podSelector: podA,
          ingress: [
            {
              from: [
                { podSelector: { matchLabels: { pod: 'b' } } },
                { podSelector: { matchLabels: { pod: 'c' } } },
              ],
            },
          ],
        }),
      ],
      r,
      80,
      'TCP',
    );
  });

  it('should enforce policy based on Ports', () => {
    const r = new Reachability(pods('x/a', 'x/b', 'y/a', 'y/b', 'z/a'), true)
      .expectPeer({ namespace: 'x' }, { namespace: 'x', pod: 'a' }, false)
      .expectPeer({ namespace: 'y' }, { namespace: 'x', pod: 'a' }, true)
      .expectPeer({ namespace: 'z' }, { namespace: 'x', pod: 'a' }, false);
    validate(
      [
        policy('x', 'allow-client-a-via-ns-selector', {
          podSelector: podA,
          ingress: [
            {
              from: [{ namespaceSelector: { matchLabels: { [NS]: 'y' } } }],
              ports: [{ port: 81, protocol: 'TCP' }],
            },
          ],
        }),
      ],
      r,
      81,
      'TCP',
    );
  });

  it('should enforce multiple, stacked policies with overlapping podSelectors', () => {
    const p = pods('x/a', 'x/b', 'y/a', 'y/b', 'z/a');
    const allow81 = policy('x', 'allow-client-a-via-ns-selector', {
      podSelector: podA,
      ingress: [{ from: [{ namespaceSelector: { matchLabels: { [NS]: 'y' } } }], ports: [{ port: 81 }] }],
    });
    const allow = new Reachability(p, true)
      .expectPeer({ namespace: 'x' }, { namespace: 'x', pod: 'a' }, false)
      .expectPeer({ namespace: 'y' }, { namespace: 'x', pod: 'a' }, true)
      .expectPeer({ namespace: 'z' }, { namespace: 'x', pod: 'a' }, false);
    validate([allow81], allow, 81, 'TCP');
    validate([allow81], new Reachability(p, true).expectAllIngress('x/a', false), 80, 'TCP');
    const allow80 = policy('x', 'allow-client-a-via-ns-selector-80', {
      podSelector: podA,
      ingress: [{ from: [{ namespaceSelector: { matchLabels: { [NS]: 'y' } } }], ports: [{ port: 80 }] }],
    });
    validate([allow81, allow80], allow, 80, 'TCP');
  });

  it('should support allow-all policy', () => {
    const r = new Reachability(pods('x/a', 'x/b', 'y/a'), true);
    const allowAll = policy('x', 'allow-all', { podSelector: {}, ingress: [{}] });
    validate([allowAll], r, 80, 'TCP');
    validate([allowAll], r, 81, 'TCP');
  });

  it('should allow ingress access on one named port', () => {
    const p = pods('x/a', 'x/b', 'y/a');
    const pol = policy('x', 'allow-all', {
      podSelector: {},
      ingress: [{ ports: [{ port: 'serve-81-tcp' }] }],
    });
    validate([pol], new Reachability(p, true), 81, 'TCP');
    validate([pol], new Reachability(p, true).expectPeer({}, { namespace: 'x' }, false), 80, 'TCP');
  });

  it('should allow ingress access from namespace on one named port', () => {
    const p = pods('x/a', 'x/b', 'y/a', 'z/a');
    const pol = policy('x', 'allow-client-a-via-ns-selector-80', {
      podSelector: podA,
      ingress: [
        {
          from: [{ namespaceSelector: { matchLabels: { [NS]: 'y' } } }],
          ports: [{ port: 'serve-80-tcp', protocol: 'TCP' }],
        },
      ],
    });
    const r80 = new Reachability(p, true)
      .expectPeer({ namespace: 'x' }, { namespace: 'x', pod: 'a' }, false)
      .expectPeer({ namespace: 'z' }, { namespace: 'x', pod: 'a' }, false);
    validate([pol], r80, 80, 'TCP');
    validate([pol], new Reachability(p, true).expectAllIngress('x/a', false), 81, 'TCP');
  });

  it('should allow egress access on one named port', () => {
    const p = pods('x/a', 'y/a');
    const pol = policy('x', 'allow-egress', {
      podSelector: {},
      egress: [{ ports: [{ port: 'serve-80-tcp' }] }],
    });
    validate([pol], new Reachability(p, true), 80, 'TCP');
    validate([pol], new Reachability(p, true).expectPeer({ namespace: 'x' }, {}, false), 81, 'TCP');
  });

  it('should enforce ingress policy allowing any port traffic to a server on a specific protocol', () => {
    const p = pods('x/a', 'y/a');
    const pol = policy('x', 'allow-ingress-by-proto', {
      podSelector: podA,
      ingress: [{ ports: [{ protocol: 'TCP' }] }],
    });
    validate([pol], new Reachability(p, true), 80, 'TCP');
    validate([pol], new Reachability(p, true).expectPeer({}, { namespace: 'x', pod: 'a' }, false), 80, 'UDP');
  });

  it('should enforce multiple ingress policies with ingress allow-all policy taking precedence', () => {
    const p = pods('x/a', 'y/a');
    const only80 = policy('x', 'allow-ingress-port-80', {
      podSelector: {},
      ingress: [{ ports: [{ port: 80 }] }],
    });
    validate([only80], new Reachability(p, true).expectPeer({}, { namespace: 'x' }, false), 81, 'TCP');
    const all = policy('x', 'allow-ingress', { podSelector: {}, ingress: [{}] });
    validate([only80, all], new Reachability(p, true), 81, 'TCP');
  });

  it('should enforce multiple egress policies with egress allow-all policy taking precedence', () => {
    const p = pods('x/a', 'y/a');
    const only80 = policy('x', 'allow-egress-port-80', {
      podSelector: {},
      egress: [{ ports: [{ port: 80 }] }],
    });
    validate([only80], new Reachability(p, true).expectPeer({ namespace: 'x' }, {}, false), 81, 'TCP');
    const all = policy('x', 'allow-egress', { podSelector: {}, egress: [{}] });
    validate([only80, all], new Reachability(p, true), 81, 'TCP');
  });

  it('should allow egress access to server in CIDR block', () => {
    // y/b is the third pod placed on node-1 (x/a, y/a, y/b round the two nodes); its IP comes from the build.
    const p = pods('x/a', 'y/a', 'y/b');
    const probe = validateWithIPs(p);
    const cidr = `${probe.get('y/b')}/32`;
    const pol = policy('x', 'allow-client-a-via-cidr-egress-rule', {
      podSelector: podA,
      egress: [{ to: [{ ipBlock: { cidr } }] }],
    });
    const r = new Reachability(p, true).expectAllEgress('x/a', false).expect('x/a', 'y/b', true);
    validate([pol], r, 80, 'TCP');
  });

  it('should enforce except clause while egress access to server in CIDR block', () => {
    const p = pods('x/a', 'x/b', 'x/c');
    const ips = validateWithIPs(p);
    const pol = policy('x', 'allow-client-a-via-cidr-egress-rule', {
      podSelector: podA,
      egress: [{ to: [{ ipBlock: { cidr: '10.244.0.0/16', except: [`${ips.get('x/b')}/32`] } }] }],
    });
    validate([pol], new Reachability(p, true).expect('x/a', 'x/b', false), 80, 'TCP');
    // A second policy allowing x/b's /32 wins: the union of the rules (an IP in one block's except
    // is still allowed by another block).
    const pol2 = policy('x', 'allow-client-a-via-cidr-egress-rule-2', {
      podSelector: podA,
      egress: [{ to: [{ ipBlock: { cidr: `${ips.get('x/b')}/32` } }] }],
    });
    validate([pol, pol2], new Reachability(p, true), 80, 'TCP');
  });

  it('should enforce policies to check ingress and egress policies can be controlled independently', () => {
    const p = pods('x/a', 'x/b', 'y/a');
    const eg = policy('x', 'allow-egress-for-target', { podSelector: podA, egress: [{}] });
    validate([eg], new Reachability(p, true), 80, 'TCP');
    const deny = policy('x', 'deny-ingress-via-label-selector', { podSelector: podA, ingress: [] });
    validate([eg, deny], new Reachability(p, true).expectAllIngress('x/a', false), 80, 'TCP');
  });

  it("should not mistakenly treat 'protocol: SCTP' as 'protocol: TCP'", () => {
    const p = pods('x/a', 'y/a');
    const pols = [
      policy('x', 'deny-ingress', { podSelector: {}, ingress: [] }),
      policy('x', 'allow-only-sctp-ingress-on-port-81', {
        podSelector: podA,
        ingress: [{ ports: [{ port: 81, protocol: 'SCTP' }] }],
      }),
    ];
    validate(pols, new Reachability(p, true).expectPeer({}, { namespace: 'x' }, false), 81, 'TCP');
    validate(pols, new Reachability(p, true), 81, 'SCTP');
  });

  it('should support denying of egress traffic on the client side (even if the server explicitly allows this traffic)', () => {
    const p = pods('x/a', 'y/a', 'y/b');
    const fromXA = {
      from: [
        { namespaceSelector: { matchLabels: { [NS]: 'x' } }, podSelector: { matchLabels: { pod: 'a' } } },
      ],
    };
    const pols = [
      policy('x', 'allow-to-ns-y-pod-a', {
        podSelector: podA,
        egress: [{ to: [{ namespaceSelector: { matchLabels: { [NS]: 'y' } }, podSelector: podA }] }],
      }),
      policy('y', 'allow-from-xa-on-ya-match-selector', { podSelector: podA, ingress: [fromXA] }),
      policy('y', 'allow-from-xa-on-yb-match-selector', {
        podSelector: { matchLabels: { pod: 'b' } },
        ingress: [fromXA],
      }),
    ];
    const r = new Reachability(p, true)
      .expectPeer({ namespace: 'x', pod: 'a' }, {}, false)
      .expectPeer({}, { namespace: 'y', pod: 'a' }, false)
      .expectPeer({ namespace: 'x', pod: 'a' }, { namespace: 'y', pod: 'a' }, true)
      .expectPeer({}, { namespace: 'y', pod: 'b' }, false);
    validate(pols, r, 80, 'TCP');
  });

  it('should enforce updated policy (allow-all, then the same policy with no ingress rules)', () => {
    const p = pods('x/a', 'y/a');
    validate(
      [policy('x', 'allow-all-mutate-to-deny-all', { podSelector: {}, ingress: [{}] })],
      new Reachability(p, true),
      81,
      'TCP',
    );
    validate(
      [policy('x', 'allow-all-mutate-to-deny-all', { podSelector: {}, ingress: [] })],
      new Reachability(p, true).expectPeer({}, { namespace: 'x' }, false),
      81,
      'TCP',
    );
  });

  it('should allow ingress access from updated namespace', () => {
    const p = pods('x/a', 'y/a');
    const pol = policy('x', 'allow-client-a-via-ns-selector', {
      podSelector: podA,
      ingress: [{ from: [{ namespaceSelector: { matchLabels: { ns2: 'updated' } } }] }],
    });
    validate([pol], new Reachability(p, true).expectAllIngress('x/a', false), 80, 'TCP');
    const r = new Reachability(p, true)
      .expectAllIngress('x/a', false)
      .expectPeer({ namespace: 'y' }, {}, true);
    validate([pol], r, 80, 'TCP', p, { namespaces: { y: { ns2: 'updated' } } });
  });

  it('should allow ingress access from updated pod', () => {
    const p = pods('x/a', 'x/b');
    const pol = policy('x', 'allow-client-a-via-pod-selector', {
      podSelector: podA,
      ingress: [{ from: [{ podSelector: { matchLabels: { pod: 'b', pod2: 'updated' } } }] }],
    });
    validate([pol], new Reachability(p, true).expectAllIngress('x/a', false), 80, 'TCP');
    const r = new Reachability(p, true).expectAllIngress('x/a', false).expect('x/b', 'x/a', true);
    validate([pol], r, 80, 'TCP', p, { pods: { 'x/b': { pod2: 'updated' } } });
  });

  it('should deny ingress from pods on other namespaces', () => {
    const r = new Reachability(pods('x/a', 'x/b', 'y/a', 'z/a'), true)
      .expectPeer({ namespace: 'y' }, { namespace: 'x' }, false)
      .expectPeer({ namespace: 'z' }, { namespace: 'x' }, false);
    validate(
      [
        policy('x', 'deny-empty-policy', {
          podSelector: {},
          ingress: [{ from: [{ podSelector: { matchLabels: {} } }] }],
        }),
      ],
      r,
      80,
      'TCP',
    );
  });

  it('should deny ingress access to updated pod', () => {
    const p = pods('x/a', 'y/a');
    const pol = policy('x', 'deny-ingress-via-label-selector', {
      podSelector: { matchLabels: { target: 'isolated' } },
      ingress: [],
    });
    validate([pol], new Reachability(p, true), 80, 'TCP');
    validate([pol], new Reachability(p, true).expectAllIngress('x/a', false), 80, 'TCP', p, {
      pods: { 'x/a': { target: 'isolated' } },
    });
  });

  it('should deny egress from pods based on PodSelector', () => {
    const r = new Reachability(pods('x/a', 'x/b', 'y/a'), true).expectAllEgress('x/a', false);
    validate([policy('x', 'deny-egress-pod-a', { podSelector: podA, egress: [] })], r, 80, 'TCP');
  });

  it('should deny egress from all pods in a namespace', () => {
    const r = new Reachability(pods('x/a', 'x/b', 'y/a'), true).expectPeer({ namespace: 'x' }, {}, false);
    validate([policy('x', 'deny-egress-ns-x', { podSelector: {}, egress: [] })], r, 80, 'TCP');
  });

  it('should work with Ingress, Egress specified together', () => {
    const p = pods('x/a', 'x/b', 'x/c', 'y/a');
    const pol = policy('x', 'allow-client-a-via-pod-selector', {
      podSelector: podA,
      ingress: [{ from: [{ podSelector: { matchLabels: { pod: 'b' } } }] }],
      egress: [{ ports: [{ port: 80 }] }],
      policyTypes: ['Egress', 'Ingress'],
    });
    const r80 = new Reachability(p, true).expectAllIngress('x/a', false).expect('x/b', 'x/a', true);
    validate([pol], r80, 80, 'TCP');
    const r81 = new Reachability(p, true)
      .expectAllIngress('x/a', false)
      .expectAllEgress('x/a', false)
      .expect('x/b', 'x/a', true);
    validate([pol], r81, 81, 'TCP');
  });

  it('should enforce egress policy allowing traffic to a server in a different namespace based on PodSelector and NamespaceSelector', () => {
    const r = new Reachability(pods('x/a', 'y/a', 'y/b'), true)
      .expectAllEgress('x/a', false)
      .expect('x/a', 'y/a', true);
    validate(
      [
        policy('x', 'allow-to-ns-y-pod-a', {
          podSelector: podA,
          egress: [{ to: [{ namespaceSelector: { matchLabels: { [NS]: 'y' } }, podSelector: podA }] }],
        }),
      ],
      r,
      80,
      'TCP',
    );
  });

  it('endPort: a port range (should enforce egress policy allowing traffic to a server in a different namespace based on PodSelector and NamespaceSelector with endPort)', () => {
    const p = pods('x/a', 'y/a', 'y/b');
    const pol = policy('x', 'allow-to-ns-y-pod-a-80-81', {
      podSelector: podA,
      egress: [
        {
          to: [{ namespaceSelector: { matchLabels: { [NS]: 'y' } }, podSelector: podA }],
          ports: [{ port: 80, endPort: 81, protocol: 'TCP' }],
        },
      ],
    });
    const r = new Reachability(p, true).expectAllEgress('x/a', false).expect('x/a', 'y/a', true);
    validate([pol], r, 80, 'TCP');
    validate([pol], r, 81, 'TCP');
    validate([pol], new Reachability(p, true).expectAllEgress('x/a', false), 81, 'UDP');
  });

  it('the full x, y, z by a, b, c model with no policies: everything reaches everything', () => {
    const p = allPods();
    validate([], new Reachability(p, true), 80, 'TCP');
    validate([], new Reachability(p, true), 81, 'UDP');
  });
});

import { cluster } from './e2e-model.js';

function validateWithIPs(p: string[]): Map<string, string> {
  const snap = cluster([], p);
  return new Map(snap.pods.map((x) => [`${x.meta.namespace}/${x.meta.name}`, x.podIPs[0]!.text]));
}

describe('e2e netpol: protocol isolation and the default namespace label', () => {
  it("should properly isolate pods that are selected by a policy allowing SCTP, even if the plugin doesn't support SCTP", () => {
    const pol = policy('x', 'allow-only-sctp-ingress-on-port-80', {
      podSelector: podA,
      ingress: [{ ports: [{ port: 80, protocol: 'SCTP' }] }],
    });
    validate([pol], new Reachability(pods('x/a', 'y/a'), true).expectAllIngress('x/a', false), 81, 'TCP');
  });

  it('should not allow access by TCP when a policy specifies only UDP', () => {
    const pol = policy('x', 'allow-only-udp-ingress-on-port-81', {
      podSelector: podA,
      ingress: [{ ports: [{ port: 81, protocol: 'UDP' }] }],
    });
    validate([pol], new Reachability(pods('x/a', 'y/a'), true).expectAllIngress('x/a', false), 81, 'TCP');
    validate([pol], new Reachability(pods('x/a', 'y/a'), true), 81, 'UDP');
  });

  it('should enforce policy to allow traffic based on NamespaceSelector with MatchLabels using default ns label', () => {
    const r = new Reachability(pods('x/a', 'x/b', 'y/a', 'z/a'), true)
      .expectPeer({ namespace: 'x' }, { namespace: 'x', pod: 'a' }, false)
      .expectPeer({ namespace: 'z' }, { namespace: 'x', pod: 'a' }, false);
    const pol = policy('x', 'allow-client-a-via-ns-selector-for-immutable-ns-label', {
      podSelector: podA,
      ingress: [{ from: [{ namespaceSelector: { matchLabels: { [NS]: 'y' } } }] }],
    });
    // The label is the apiserver's: even a namespace written with another value gets its own name.
    validate([pol], r, 80, 'TCP', r.pods, { namespaces: { y: { [NS]: 'not-y' } } });
  });

  it('should enforce policy based on NamespaceSelector with MatchExpressions using default ns label', () => {
    const r = new Reachability(pods('x/a', 'x/b', 'y/a', 'z/a'), true).expectPeer(
      { namespace: 'x', pod: 'a' },
      { namespace: 'y' },
      false,
    );
    const pol = policy('x', 'allow-ns-y-match-selector-for-immutable-ns-label', {
      podSelector: podA,
      egress: [
        {
          to: [{ namespaceSelector: { matchExpressions: [{ key: NS, operator: 'NotIn', values: ['y'] }] } }],
        },
      ],
    });
    validate([pol], r, 80, 'TCP');
  });
});

for (const protocol of ['UDP', 'SCTP'] as const) {
  describe(`e2e netpol: NetworkPolicy between server and client using ${protocol}`, () => {
    it("should support a 'default-deny-ingress' policy", () => {
      const r = new Reachability(pods('x/a', 'x/b', 'y/a', 'y/b'), true).expectPeer(
        {},
        { namespace: 'x' },
        false,
      );
      validate([policy('x', 'deny-all', { podSelector: {}, ingress: [] })], r, 80, protocol);
    });

    it('should enforce policy based on Ports', () => {
      const r = new Reachability(pods('x/a', 'x/b', 'y/a', 'z/a'), true)
        .expectPeer({ namespace: 'x' }, { namespace: 'x', pod: 'a' }, false)
        .expectPeer({ namespace: 'z' }, { namespace: 'x', pod: 'a' }, false);
      const pol = policy('x', 'allow-ingress-on-port-81-ns-x', {
        podSelector: podA,
        ingress: [
          { from: [{ namespaceSelector: { matchLabels: { [NS]: 'y' } } }], ports: [{ port: 81, protocol }] },
        ],
      });
      validate([pol], r, 81, protocol);
    });

    it('should enforce policy to allow traffic only from a pod in a different namespace based on PodSelector and NamespaceSelector', () => {
      const r = new Reachability(pods('x/a', 'x/b', 'y/a'), true)
        .expectAllIngress('x/a', false)
        .expect('y/a', 'x/a', true);
      const pol = policy('x', 'allow-ns-y-pod-a-via-namespace-pod-selector', {
        podSelector: podA,
        ingress: [{ from: [{ namespaceSelector: { matchLabels: { [NS]: 'y' } }, podSelector: podA }] }],
      });
      validate([pol], r, 80, protocol);
    });
  });
}
