import { describe, expect, it } from 'vitest';
import { parseIP } from '../../netmodel/addr.js';
import { MAX_AFFINITY_TIMEOUT, SERVICE_NAME_LABEL } from '../../netmodel/cluster/index.js';
import { deployment, node, pod, snapshotOf, svc } from '../helpers/cluster.js';

const n1 = node('n1', { podCIDR: '10.244.1.0/24' });

function endpointsOf(s: ReturnType<typeof snapshotOf>, name: string) {
  const slices = s.slicesFor(s.service('default', name)!);
  return slices.flatMap((sl) =>
    sl.endpoints.map((e) => ({
      ip: e.addresses[0]!.text,
      ...e.conditions,
      ports: sl.ports.map((p) => p.port),
      pod: e.targetRef?.name,
      hostname: e.hostname,
    })),
  );
}

describe('EndpointSlices derived like the endpoint-slice controller', () => {
  it('ready pods matching the selector in the same namespace; labels and owner', () => {
    const s = snapshotOf(
      n1,
      pod('a', { nodeName: 'n1', labels: { app: 'web' } }),
      pod('b', { nodeName: 'n1', labels: { app: 'web' }, namespace: 'other' }),
      pod('c', { nodeName: 'n1', labels: { app: 'db' } }),
      svc('web'),
    );
    const slices = s.slicesFor(s.service('default', 'web')!);
    expect(slices).toHaveLength(1);
    expect(slices[0]!.meta.labels[SERVICE_NAME_LABEL]).toBe('web');
    expect(slices[0]!.meta.labels['endpointslice.kubernetes.io/managed-by']).toBe(
      'endpointslice-controller.k8s.io',
    );
    expect(slices[0]!.meta.name).toMatch(/^web-[a-z0-9]{5}$/);
    expect(endpointsOf(s, 'web').map((e) => e.pod)).toEqual(['a']);
  });

  it('readiness: not-ready pods are not ready; terminating pods are serving+terminating, never ready', () => {
    const s = snapshotOf(
      n1,
      pod('ready', { nodeName: 'n1', labels: { app: 'web' } }),
      pod('unready', {
        nodeName: 'n1',
        labels: { app: 'web' },
        status: { phase: 'Running', conditions: [{ type: 'Ready', status: 'False' }] },
      }),
      pod('leaving', {
        nodeName: 'n1',
        labels: { app: 'web' },
        metadata: { deletionTimestamp: '2026-01-01T00:00:00Z' },
      }),
      pod('done', { nodeName: 'n1', labels: { app: 'web' }, status: { phase: 'Succeeded' } }),
      svc('web'),
    );
    const eps = Object.fromEntries(endpointsOf(s, 'web').map((e) => [e.pod, e]));
    expect(Object.keys(eps).sort()).toEqual(['leaving', 'ready', 'unready']);
    expect(eps.ready).toMatchObject({ ready: true, serving: true, terminating: false });
    expect(eps.unready).toMatchObject({ ready: false, serving: false, terminating: false });
    expect(eps.leaving).toMatchObject({ ready: false, serving: true, terminating: true });
  });

  it('publishNotReadyAddresses makes every endpoint ready', () => {
    const s = snapshotOf(
      n1,
      pod('unready', {
        nodeName: 'n1',
        labels: { app: 'web' },
        status: { phase: 'Running', conditions: [{ type: 'Ready', status: 'False' }] },
      }),
      svc('web', { publishNotReadyAddresses: true }),
    );
    expect(endpointsOf(s, 'web')[0]).toMatchObject({ ready: true, serving: false });
  });

  it('named target ports resolve per pod; pods without the name are left out; slices group by port', () => {
    const s = snapshotOf(
      n1,
      pod('v1', { nodeName: 'n1', labels: { app: 'web' }, ports: [{ name: 'http', containerPort: 8080 }] }),
      pod('v2', { nodeName: 'n1', labels: { app: 'web' }, ports: [{ name: 'http', containerPort: 9090 }] }),
      pod('none', {
        nodeName: 'n1',
        labels: { app: 'web' },
        ports: [{ name: 'metrics', containerPort: 9100 }],
      }),
      pod('udp', {
        nodeName: 'n1',
        labels: { app: 'web' },
        ports: [{ name: 'http', containerPort: 7070, protocol: 'UDP' }],
      }),
      svc('web', { ports: [{ port: 80, targetPort: 'http' }] }),
    );
    const eps = endpointsOf(s, 'web');
    expect(eps.map((e) => `${e.pod}:${e.ports}`).sort()).toEqual(['v1:8080', 'v2:9090']);
    expect(s.slicesFor(s.service('default', 'web')!)).toHaveLength(2);
  });

  it('hostname only when the pod subdomain names the service', () => {
    const s = snapshotOf(
      n1,
      pod('a', { nodeName: 'n1', labels: { app: 'db' }, spec: { hostname: 'a', subdomain: 'db' } }),
      pod('b', { nodeName: 'n1', labels: { app: 'db' }, spec: { hostname: 'b', subdomain: 'other' } }),
      svc('db', { clusterIP: 'None' }),
    );
    const eps = Object.fromEntries(endpointsOf(s, 'db').map((e) => [e.pod, e]));
    expect(eps.a!.hostname).toBe('a');
    expect(eps.b!.hostname).toBeUndefined();
    expect(s.slicesFor(s.service('default', 'db')!)[0]!.meta.labels['service.kubernetes.io/headless']).toBe(
      '',
    );
  });

  it('pods without an IP (unscheduled) are not endpoints; a service with none still has an empty slice', () => {
    const s = snapshotOf(n1, deployment('web', 1, { podSpec: { nodeSelector: { nope: 'x' } } }), svc('web'));
    const slices = s.slicesFor(s.service('default', 'web')!);
    expect(slices).toHaveLength(1);
    expect(slices[0]!.endpoints).toEqual([]);
  });

  it('more than 100 endpoints are split into slices of at most 100', () => {
    const s = snapshotOf(
      node('n1', { podCIDR: '10.244.0.0/24' }),
      node('n2', { podCIDR: '10.244.1.0/24' }),
      deployment('web', 250),
      svc('web'),
    );
    const slices = s.slicesFor(s.service('default', 'web')!);
    expect(slices.map((x) => x.endpoints.length)).toEqual([100, 100, 50]);
  });

  it('selector-less services use given EndpointSlices or Endpoints (mirrored)', () => {
    const s = snapshotOf(
      svc('ext', { selector: undefined }),
      svc('legacy', { selector: undefined }),
      {
        apiVersion: 'discovery.k8s.io/v1',
        kind: 'EndpointSlice',
        metadata: { name: 'ext-1', labels: { [SERVICE_NAME_LABEL]: 'ext' } },
        addressType: 'IPv4',
        ports: [{ port: 5432 }],
        endpoints: [{ addresses: ['10.10.0.5'] }, { addresses: ['10.10.0.6'], conditions: { ready: false } }],
      },
      {
        apiVersion: 'v1',
        kind: 'Endpoints',
        metadata: { name: 'legacy' },
        subsets: [
          {
            addresses: [{ ip: '10.10.1.1' }],
            notReadyAddresses: [{ ip: '10.10.1.2' }],
            ports: [{ port: 80 }],
          },
        ],
      },
    );
    expect(endpointsOf(s, 'ext').map((e) => [e.ip, e.ready])).toEqual([
      ['10.10.0.5', true],
      ['10.10.0.6', false],
    ]);
    expect(endpointsOf(s, 'legacy').map((e) => [e.ip, e.ready])).toEqual([
      ['10.10.1.1', true],
      ['10.10.1.2', false],
    ]);
  });

  it('affinity defaults to 10800 s and accepts the maximum', () => {
    const s = snapshotOf(
      svc('a', { sessionAffinity: 'ClientIP' }),
      svc('b', {
        sessionAffinity: 'ClientIP',
        sessionAffinityConfig: { clientIP: { timeoutSeconds: MAX_AFFINITY_TIMEOUT } },
      }),
    );
    expect(s.service('default', 'a')!.affinityTimeoutSeconds).toBe(10800);
    expect(s.service('default', 'b')!.affinityTimeoutSeconds).toBe(86400);
  });
});

describe('core/v1 Endpoints, as the endpoints controller writes them', () => {
  // pkg/controller/endpoint/endpoints_controller.go: ShouldPodBeInEndpoints(pod,
  // service.Spec.PublishNotReadyAddresses) leaves terminating pods out unless the service publishes
  // not-ready addresses; addEndpointSubset puts an address in Addresses when tolerateUnreadyEndpoints
  // (publishNotReadyAddresses) || podutil.IsPodReady(pod), else in NotReadyAddresses.
  const slicesWith = async (publish: boolean) => {
    const { deriveEndpointsSubsets } = await import('../../netmodel/cluster/index.js');
    const s = snapshotOf(
      n1,
      pod('ready', { nodeName: 'n1', labels: { app: 'web' } }),
      svc('web', { publishNotReadyAddresses: publish }),
    );
    const service = s.service('default', 'web')!;
    const [slice] = s.slicesFor(service);
    const base = slice!.endpoints[0]!;
    const ep = (name: string, ip: string, c: { ready: boolean; serving: boolean; terminating: boolean }) => ({
      ...base,
      addresses: [parseIP(ip)],
      conditions: c,
      targetRef: { ...base.targetRef!, name },
    });
    // Endpoints as a live slice shows them: one ready, one failing its probe, one terminating.
    const live = {
      ...slice!,
      endpoints: [
        ep('ready', '10.244.1.2', { ready: true, serving: true, terminating: false }),
        ep('unready', '10.244.1.3', { ready: false, serving: false, terminating: false }),
        ep('leaving', '10.244.1.4', { ready: false, serving: true, terminating: true }),
      ],
    };
    return { subsets: deriveEndpointsSubsets(service, [live]), service, live };
  };

  it('without publishNotReadyAddresses: ready in addresses, not ready in notReadyAddresses, terminating left out', async () => {
    const { subsets } = await slicesWith(false);
    expect(subsets).toHaveLength(1);
    expect(subsets[0]!.addresses?.map((a) => a.ip)).toEqual(['10.244.1.2']);
    expect(subsets[0]!.notReadyAddresses?.map((a) => a.ip)).toEqual(['10.244.1.3']);
  });

  it('with publishNotReadyAddresses: every address, terminating too, in addresses', async () => {
    const { subsets } = await slicesWith(true);
    expect(subsets[0]!.addresses?.map((a) => a.ip)).toEqual(['10.244.1.2', '10.244.1.3', '10.244.1.4']);
    expect(subsets[0]!.notReadyAddresses).toBeUndefined();
  });

  it('kpath get (cli/format/k8s.ts) and the API (proxy/api/render.ts) render the same subsets', async () => {
    const { endpointsToK8s } = await import('../../cli/format/k8s.js');
    const { renderCluster } = await import('../../proxy/api/render.js');
    for (const publish of [false, true]) {
      const s = snapshotOf(
        n1,
        pod('ok', { nodeName: 'n1', labels: { app: 'web' } }),
        pod('unready', {
          nodeName: 'n1',
          labels: { app: 'web' },
          status: { phase: 'Running', conditions: [{ type: 'Ready', status: 'False' }] },
        }),
        svc('web', { publishNotReadyAddresses: publish }),
      );
      const service = s.service('default', 'web')!;
      const cli = endpointsToK8s(service, s.slicesFor(service));
      const api = renderCluster(s, new Map()).get('endpoints')!.get('default/web')!.obj;
      expect(api.subsets).toEqual(cli.subsets);
      const sub = (cli.subsets as { addresses?: unknown[]; notReadyAddresses?: unknown[] }[])[0]!;
      expect([sub.addresses?.length, sub.notReadyAddresses?.length]).toEqual(
        publish ? [2, undefined] : [1, 1],
      );
    }
  });
});
