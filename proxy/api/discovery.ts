/**
 * Discovery documents as the apiserver serves them: /api (APIVersions), /apis (APIGroupList),
 * /api/v1 and /apis/<group>/<version> (APIResourceList), /version; and aggregated discovery
 * (apidiscovery.k8s.io/v2 APIGroupDiscoveryList on /api and /apis) for clients that ask for it, which
 * saves kubectl the per-group requests. Older clients get the legacy documents.
 */
import { apiVersionOf, GROUPS, RESOURCES, verbsOf } from './resources.js';
import type { Obj } from './status.js';

export const SERVER_VERSION = { major: '1', minor: '32', gitVersion: 'v1.32.0-kpath' };

export function versionInfo(): Obj {
  return {
    major: SERVER_VERSION.major,
    minor: SERVER_VERSION.minor,
    gitVersion: SERVER_VERSION.gitVersion,
    gitCommit: '0000000000000000000000000000000000000000',
    gitTreeState: 'clean',
    buildDate: '2026-12-01T00:00:00Z',
    goVersion: 'go1.23.0',
    compiler: 'gc',
    platform: `linux/${process.arch === 'x64' ? 'amd64' : process.arch}`,
  };
}

export function apiVersions(serverAddress: string): Obj {
  return {
    kind: 'APIVersions',
    versions: ['v1'],
    serverAddressByClientCIDRs: [{ clientCIDR: '0.0.0.0/0', serverAddress }],
  };
}

export function apiGroupList(): Obj {
  return {
    kind: 'APIGroupList',
    apiVersion: 'v1',
    groups: GROUPS.map((g) => {
      const gv = { groupVersion: `${g.group}/${g.version}`, version: g.version };
      return { name: g.group, versions: [gv], preferredVersion: gv };
    }),
  };
}

export function apiGroup(group: string): Obj | undefined {
  const g = GROUPS.find((x) => x.group === group);
  if (!g) return undefined;
  const gv = { groupVersion: `${g.group}/${g.version}`, version: g.version };
  return { kind: 'APIGroup', apiVersion: 'v1', name: g.group, versions: [gv], preferredVersion: gv };
}

export function apiResourceList(group: string, version: string): Obj | undefined {
  const list = RESOURCES.filter((r) => r.group === group && r.version === version);
  if (!list.length) return undefined;
  const resources: Obj[] = [];
  for (const r of list) {
    resources.push({
      name: r.name,
      singularName: r.singular,
      namespaced: r.namespaced,
      kind: r.kind,
      verbs: verbsOf(r),
      ...(r.shortNames.length ? { shortNames: r.shortNames } : {}),
      ...(r.categories.length ? { categories: r.categories } : {}),
    });
    if (r.scale) {
      resources.push({
        name: `${r.name}/scale`,
        singularName: '',
        namespaced: true,
        group: 'autoscaling',
        version: 'v1',
        kind: 'Scale',
        verbs: ['get', 'patch', 'update'],
      });
    }
    if (r.model === 'model' && r.name !== 'endpoints') {
      resources.push({
        name: `${r.name}/status`,
        singularName: '',
        namespaced: r.namespaced,
        kind: r.kind,
        verbs: ['get'],
      });
    }
  }
  return {
    kind: 'APIResourceList',
    apiVersion: 'v1',
    groupVersion: apiVersionOf({ group, version }),
    resources,
  };
}

/** The Content-Type of aggregated discovery (apidiscovery.k8s.io/v2), which kubectl 1.30+ asks for first. */
export const AGGREGATED_V2 = 'application/json;g=apidiscovery.k8s.io;v=v2;as=APIGroupDiscoveryList';

export function wantsAggregated(accept: string | undefined): boolean {
  return (accept ?? '')
    .split(',')
    .some(
      (p) =>
        /g=apidiscovery\.k8s\.io/.test(p) && /v=v2(;|$|\s)/.test(p) && /as=APIGroupDiscoveryList/.test(p),
    );
}

/** APIGroupDiscoveryList for /api (the core group) or /apis (the named groups). */
export function aggregatedDiscovery(core: boolean): Obj {
  const gvs = core ? [{ group: '', version: 'v1' }] : GROUPS;
  return {
    kind: 'APIGroupDiscoveryList',
    apiVersion: 'apidiscovery.k8s.io/v2',
    metadata: {},
    items: gvs.map((gv) => ({
      metadata: { name: gv.group, creationTimestamp: null },
      versions: [
        {
          version: gv.version,
          freshness: 'Current',
          resources: RESOURCES.filter((r) => r.group === gv.group && r.version === gv.version).map((r) => {
            const subresources: Obj[] = [];
            if (r.scale) {
              subresources.push({
                subresource: 'scale',
                responseKind: { group: 'autoscaling', version: 'v1', kind: 'Scale' },
                verbs: ['get', 'patch', 'update'],
              });
            }
            if (r.model === 'model' && r.name !== 'endpoints') {
              subresources.push({
                subresource: 'status',
                responseKind: { group: r.group, version: r.version, kind: r.kind },
                verbs: ['get'],
              });
            }
            return {
              resource: r.name,
              responseKind: { group: r.group, version: r.version, kind: r.kind },
              scope: r.namespaced ? 'Namespaced' : 'Cluster',
              singularResource: r.singular,
              verbs: verbsOf(r),
              ...(r.shortNames.length ? { shortNames: r.shortNames } : {}),
              ...(r.categories.length ? { categories: r.categories } : {}),
              ...(subresources.length ? { subresources } : {}),
            };
          }),
        },
      ],
    })),
  };
}
