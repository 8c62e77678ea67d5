/**
 * The IPVS operations of a sync (proxier.go syncService / syncEndpoint / cleanLegacyService): from the
 * node's current virtual servers and kube-ipvs0 addresses to a render.
 */
import { describe, expect, it } from 'vitest';
import { parseIP, parsePrefix } from '../../netmodel/addr.js';
import type { IpvsServiceSpec } from '../../netmodel/ipvs/types.js';
import { type IpvsSyncOp, ipvsSyncOps, renderIpvsNode } from '../../proxy/ipvs/index.js';
import { allKinds, p80, slice, snap, TEST_NODE } from './fixtures.js';

function text(op: IpvsSyncOp): string {
  const vs = (s: IpvsServiceSpec) => `${s.protocol} ${s.vip.text}:${s.port}`;
  switch (op.op) {
    case 'bind':
    case 'unbind':
      return `${op.op} ${op.ip.text} ${op.device}`;
    case 'add-service':
    case 'edit-service':
    case 'delete-service':
      return `${op.op} ${vs(op.service)}`;
    default:
      return `${op.op} ${vs(op.service)} ${op.dest.ip.text}:${op.dest.port} w${op.dest.weight}`;
  }
}

describe('ipvsSyncOps', () => {
  it('first sync: every service added, its address bound, its real servers added in order', () => {
    const r = renderIpvsNode(snap(...allKinds()), TEST_NODE);
    const ops = ipvsSyncOps({ services: [], dummyAddresses: [] }, r).map(text);
    expect(ops.slice(0, 4)).toEqual([
      'add-service TCP 172.30.0.41:80',
      'bind 172.30.0.41 kube-ipvs0',
      'add-dest TCP 172.30.0.41:80 10.180.0.1:80 w1',
      'add-dest TCP 172.30.0.41:80 10.180.0.9:80 w1',
    ]);
    expect(ops.filter((o) => o.startsWith('add-service'))).toHaveLength(r.services.length);
    expect(ops.filter((o) => o.startsWith('bind'))).toHaveLength(r.dummy.addresses.length);
    // Node-port virtual servers are never bound.
    expect(ops).not.toContain('bind 192.168.0.2 kube-ipvs0');
  });

  it('a second identical sync does nothing', () => {
    const r = renderIpvsNode(snap(...allKinds()), TEST_NODE);
    expect(ipvsSyncOps({ services: r.services, dummyAddresses: r.dummy.addresses }, r)).toEqual([]);
  });

  it('endpoint removed: weight 0 edit while connections last, delete after; stale services deleted except excludeCIDRs', () => {
    const before = renderIpvsNode(snap(...allKinds()), TEST_NODE);
    const next = allKinds().map((d) =>
      d.kind === 'EndpointSlice' && (d.metadata as { name: string }).name === 'svc1-1'
        ? slice('ns1', 'svc1', p80, [{ ip: '10.180.0.1', node: TEST_NODE }])
        : d,
    );
    const busy = renderIpvsNode(snap(...next), TEST_NODE, { previous: before.services });
    const user: IpvsServiceSpec = {
      protocol: 'TCP',
      vip: parseIP('10.9.9.9'),
      port: 80,
      scheduler: 'rr',
      flags: [],
      destinations: [],
    };
    const stale: IpvsServiceSpec = { ...user, vip: parseIP('172.30.9.9') };
    const cur = {
      services: [...before.services, user, stale],
      dummyAddresses: [...before.dummy.addresses, parseIP('172.30.9.9')],
    };
    expect(ipvsSyncOps(cur, busy, [parsePrefix('10.9.0.0/16')]).map(text)).toEqual([
      'edit-dest TCP 172.30.0.41:80 10.180.0.9:80 w0',
      'unbind 172.30.9.9 kube-ipvs0',
      'delete-service TCP 172.30.9.9:80',
    ]);
    const idle = renderIpvsNode(snap(...next), TEST_NODE, { previous: busy.services, connections: () => 0 });
    expect(
      ipvsSyncOps({ services: busy.services, dummyAddresses: busy.dummy.addresses }, idle).map(text),
    ).toEqual(['delete-dest TCP 172.30.0.41:80 10.180.0.9:80 w0']);
  });

  it('a changed affinity edits the service in place', () => {
    const r = renderIpvsNode(snap(...allKinds()), TEST_NODE);
    const cur = r.services.map((s) =>
      s.persistence ? { ...s, persistence: undefined } : s,
    ) as IpvsServiceSpec[];
    const ops = ipvsSyncOps({ services: cur, dummyAddresses: r.dummy.addresses }, r).map(text);
    expect(ops).toEqual([
      'edit-service TCP 172.30.0.45:80',
      'edit-service TCP 5.6.7.8:80',
      'edit-service TCP 192.168.0.2:3002',
    ]);
  });
});
