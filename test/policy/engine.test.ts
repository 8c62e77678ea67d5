/**
 * The evaluator's edges the e2e tables do not reach: peers that are not pods (ipBlock only), a
 * masqueraded source, named ports by protocol, host-network pods, a pod reaching itself, and the
 * reasons it gives.
 */
import { describe, expect, it } from 'vitest';
import { parseIP } from '../../netmodel/addr.js';
import { PolicyEngine } from '../../netmodel/policy/index.js';
import { node, pod, snapshotOf } from '../helpers/cluster.js';

type Obj = Record<string, unknown>;
const np = (name: string, spec: Obj): Obj => ({
  apiVersion: 'networking.k8s.io/v1',
  kind: 'NetworkPolicy',
  metadata: { name, namespace: 'default' },
  spec,
});

function engine(...policies: Obj[]) {
  const snap = snapshotOf(
    node('node-1', { podCIDR: '10.244.1.0/24', ip: '10.0.0.11' }),
    pod('db', {
      nodeName: 'node-1',
      labels: { app: 'db' },
      ports: [
        { name: 'pg', containerPort: 5432 },
        { name: 'metrics', containerPort: 9100, protocol: 'UDP' },
      ],
    }),
    pod('web', { nodeName: 'node-1', labels: { app: 'web' } }),
    pod('agent', { nodeName: 'node-1', labels: { app: 'db' }, spec: { hostNetwork: true } }),
    ...policies,
  );
  const e = new PolicyEngine(snap);
  const ip = (n: string) => snap.pod('default', n)!.podIPs[0]!;
  return { e, snap, ip };
}

describe('PolicyEngine', () => {
  it('ipBlock with except: an outside client, a masqueraded one (the node address), a pod', () => {
    const { e, ip } = engine(
      np('db-in', {
        podSelector: { matchLabels: { app: 'db' } },
        ingress: [{ from: [{ ipBlock: { cidr: '10.0.0.0/8', except: ['10.244.0.0/16'] } }] }],
      }),
    );
    const to = { ip: ip('db') };
    const at = (src: string) => e.check({ src: { ip: parseIP(src) }, dst: to, port: 5432, protocol: 'TCP' });
    expect(at('10.0.0.11').allowed).toBe(true); // the node, e.g. a masqueraded client
    expect(at('192.168.1.9').allowed).toBe(false);
    const fromWeb = at(ip('web').text);
    expect(fromWeb.allowed).toBe(false);
    expect(fromWeb.egress).toMatchObject({ pod: 'default/web', isolated: false, allowed: true });
    expect(fromWeb.ingress!.reason).toBe(
      `default/db is isolated for ingress by default/db-in; no rule allows TCP/5432 from ${ip('web').text} (pod default/web)`,
    );
    expect(at('10.0.0.11').ingress!.allowedBy[0]).toMatchObject({
      policy: 'default/db-in',
      direction: 'Ingress',
      rule: 0,
    });
  });

  it('a named port matches only the container port of that name and protocol', () => {
    const { e, ip } = engine(
      np('db-ports', {
        podSelector: { matchLabels: { app: 'db' } },
        ingress: [{ ports: [{ port: 'pg' }, { port: 'metrics', protocol: 'UDP' }] }],
      }),
    );
    const c = (port: number, protocol: 'TCP' | 'UDP') =>
      e.check({ src: { ip: ip('web') }, dst: { ip: ip('db') }, port, protocol }).allowed;
    expect(c(5432, 'TCP')).toBe(true);
    expect(c(5432, 'UDP')).toBe(false);
    expect(c(9100, 'UDP')).toBe(true);
    expect(c(9100, 'TCP')).toBe(false);
    expect(c(80, 'TCP')).toBe(false);
  });

  it('egress to an address outside the cluster, by ipBlock; SCTP is not TCP', () => {
    const { e, ip } = engine(
      np('web-out', {
        podSelector: { matchLabels: { app: 'web' } },
        policyTypes: ['Egress'],
        egress: [{ to: [{ ipBlock: { cidr: '203.0.113.0/24' } }], ports: [{ port: 443 }] }],
      }),
    );
    const out = (dst: string, port: number, protocol: 'TCP' | 'SCTP') =>
      e.check({ src: { ip: ip('web') }, dst: { ip: parseIP(dst) }, port, protocol });
    const ok = out('203.0.113.7', 443, 'TCP');
    expect(ok.allowed).toBe(true);
    expect(ok.ingress).toBeUndefined();
    expect(out('203.0.113.7', 443, 'SCTP').allowed).toBe(false);
    expect(out('198.51.100.1', 443, 'TCP').egress!.reason).toBe(
      'default/web is isolated for egress by default/web-out; no rule allows TCP/443 to 198.51.100.1',
    );
  });

  it('host-network pods are not selected; a pod reaching itself is allowed', () => {
    const { e, ip, snap } = engine(np('deny', { podSelector: {}, policyTypes: ['Ingress', 'Egress'] }));
    const agent = snap.pod('default', 'agent')!;
    expect(e.policiesFor(agent, 'Ingress')).toEqual([]);
    const self = e.check({ src: { ip: ip('db') }, dst: { ip: ip('db') }, port: 5432, protocol: 'TCP' });
    expect(self.allowed).toBe(true);
    expect(self.note).toMatch(/to itself/);
    const selfEgress = e.direction('Egress', {
      src: { ip: ip('db') },
      dst: { ip: ip('db') },
      port: 5432,
      protocol: 'TCP',
    });
    expect(selfEgress).toMatchObject({ allowed: true, isolated: true, policies: ['default/deny'] });
    expect(
      e.check({ src: { ip: ip('web') }, dst: { ip: ip('db') }, port: 5432, protocol: 'TCP' }).allowed,
    ).toBe(false);
    // allows() is the same answer without the text.
    expect(e.allows({ src: { ip: ip('web') }, dst: { ip: ip('db') }, port: 5432, protocol: 'TCP' })).toBe(
      false,
    );
    expect(e.allows({ src: { ip: ip('db') }, dst: { ip: ip('db') }, port: 5432, protocol: 'TCP' })).toBe(
      true,
    );
  });
});
