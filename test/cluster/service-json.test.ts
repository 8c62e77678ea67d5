import { describe, expect, it } from 'vitest';
import { serviceToK8s } from '../../cli/format/k8s.js';
import { renderCluster } from '../../proxy/api/render.js';
import { node, snapshotOf, svc } from '../helpers/cluster.js';

// The apiserver's Service defaulting (pkg/apis/core/v1/defaults.go SetDefaults_Service): the
// externalTrafficPolicy default applies to externally accessible services (pkg/api/v1/service
// ExternallyAccessible: NodePort, LoadBalancer, ClusterIP with externalIPs); `ports` is omitempty.
describe('a Service as kpath get and the API server write it', () => {
  const snap = snapshotOf(
    node('n1', { podCIDR: '10.244.1.0/24' }),
    svc('ext', { externalIPs: ['203.0.113.7'] }),
    svc('plain'),
    svc('np', { type: 'NodePort' }),
    svc('headless', { clusterIP: 'None', ports: undefined }),
    svc('extname', {
      type: 'ExternalName',
      externalName: 'example.com',
      selector: undefined,
      ports: undefined,
    }),
  );
  const api = renderCluster(snap, new Map()).get('services')!;
  const both = (name: string) => {
    const s = snap.service('default', name)!;
    const fromGet = serviceToK8s(s).spec as Record<string, unknown>;
    const fromApi = (api.get(`default/${name}`)!.obj as { spec: Record<string, unknown> }).spec;
    expect(fromApi).toEqual(fromGet);
    return fromGet;
  };

  it('defaults externalTrafficPolicy for NodePort and for a ClusterIP service with externalIPs only', () => {
    expect(both('ext').externalTrafficPolicy).toBe('Cluster');
    expect(both('np').externalTrafficPolicy).toBe('Cluster');
    expect(both('plain')).not.toHaveProperty('externalTrafficPolicy');
    expect(both('extname')).not.toHaveProperty('externalTrafficPolicy');
  });

  it('leaves ports out of a service that has none', () => {
    expect(both('headless')).not.toHaveProperty('ports');
    expect(both('extname')).not.toHaveProperty('ports');
    expect(both('plain').ports).toEqual([{ protocol: 'TCP', port: 80, targetPort: 80 }]);
  });
});
