/** EndpointSlice (discovery.k8s.io/v1) as given, and core/v1 Endpoints converted as the mirroring controller does. */
import { type IP, tryParseIP } from '../addr.js';
import type { Fields } from './fields.js';
import { ianaSvcName } from './names.js';
import type { Endpoint, EndpointPort, EndpointSlice, Meta, Protocol } from './objects.js';
import { PROTOCOLS } from './objects.js';

export const SERVICE_NAME_LABEL = 'kubernetes.io/service-name';
export const MANAGED_BY_LABEL = 'endpointslice.kubernetes.io/managed-by';

/** `{ targetRef }` from a raw targetRef object (kind defaults to Pod, namespace to the slice's), or `{}`. */
function targetRefOf(
  tr: Record<string, unknown> | undefined,
  namespace: string,
): Pick<Endpoint, 'targetRef'> {
  if (!tr) return {};
  return {
    targetRef: {
      kind: String(tr.kind ?? 'Pod'),
      namespace: String(tr.namespace ?? namespace),
      name: String(tr.name ?? ''),
      uid: String(tr.uid ?? ''),
    },
  };
}

function decodePorts(f: Fields, path: (string | number)[]): EndpointPort[] {
  const out: EndpointPort[] = [];
  (f.array(path) ?? []).forEach((_, i) => {
    const p = f.at([...path, i]);
    const port = p.int(['port'], { min: 1, max: 65535 });
    const protocol = (p.oneOf(['protocol'], PROTOCOLS) ?? 'TCP') as Protocol;
    const name = p.str(['name']) ?? '';
    if (name !== '') {
      const e = ianaSvcName(name);
      if (e && !/^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/.test(name))
        p.error(['name'], `invalid port name "${name}": ${e}`);
    }
    if (port === undefined) {
      if (!p.has(['port'])) p.error(['port'], 'required: a port number 1-65535');
      return;
    }
    out.push({ name, protocol, port });
  });
  return out;
}

export function decodeEndpointSlice(f: Fields, meta: Meta): EndpointSlice {
  const addressType = f.oneOf(['addressType'], ['IPv4', 'IPv6', 'FQDN'] as const);
  if (!addressType && !f.has(['addressType'])) f.error(['addressType'], 'required: IPv4, IPv6 or FQDN');
  const serviceName = meta.labels[SERVICE_NAME_LABEL] ?? '';
  if (!serviceName) {
    f.warning(
      ['metadata', 'labels'],
      `no "${SERVICE_NAME_LABEL}" label: this slice belongs to no service and is ignored`,
    );
  }
  const endpoints: Endpoint[] = [];
  (f.array(['endpoints']) ?? []).forEach((_, i) => {
    const e = f.at(['endpoints', i]);
    const addresses: IP[] = [];
    const texts = e.strArray(['addresses']) ?? [];
    if (texts.length === 0) e.error(['addresses'], 'required: one address');
    texts.forEach((t, j) => {
      if (addressType === 'FQDN') return;
      const ip = tryParseIP(t);
      if (!ip) e.error(['addresses', j], `"${t}" is not a valid IP address`);
      else if ((addressType === 'IPv4' && ip.family !== 4) || (addressType === 'IPv6' && ip.family !== 6)) {
        e.error(['addresses', j], `"${t}" does not match addressType ${addressType}`);
      } else addresses.push(ip);
    });
    const c = e.at(['conditions']);
    // discovery/v1: a nil ready is interpreted as ready; serving defaults to ready; terminating to false.
    const ready = c.bool(['ready']) ?? true;
    const serving = c.bool(['serving']) ?? ready;
    const terminating = c.bool(['terminating']) ?? false;
    const hostname = e.str(['hostname']);
    const nodeName = e.str(['nodeName']);
    const zone = e.str(['zone']);
    const tr = e.object(['targetRef']);
    endpoints.push({
      addresses,
      conditions: { ready, serving, terminating },
      ...(hostname !== undefined ? { hostname } : {}),
      ...(nodeName !== undefined ? { nodeName } : {}),
      ...(zone !== undefined ? { zone } : {}),
      ...targetRefOf(tr, meta.namespace),
    });
  });
  return {
    kind: 'EndpointSlice',
    meta,
    serviceName,
    addressType: addressType ?? 'IPv4',
    ports: decodePorts(f, ['ports']),
    endpoints,
    source: 'given',
    raw: f.body,
  };
}

/**
 * core/v1 Endpoints -> EndpointSlices, one per subset and family, as the EndpointSlice mirroring
 * controller writes them (addresses ready, notReadyAddresses not ready).
 */
export function decodeEndpoints(f: Fields, meta: Meta): EndpointSlice[] {
  const out: EndpointSlice[] = [];
  (f.array(['subsets']) ?? []).forEach((_, i) => {
    const sub = f.at(['subsets', i]);
    const ports = decodePorts(sub, ['ports']);
    const byFamily = new Map<4 | 6, Endpoint[]>();
    for (const [field, ready] of [
      ['addresses', true],
      ['notReadyAddresses', false],
    ] as const) {
      (sub.array([field]) ?? []).forEach((_, j) => {
        const a = sub.at([field, j]);
        const t = a.str(['ip']);
        if (t === undefined) {
          a.error(['ip'], 'required: an IP address');
          return;
        }
        const ip = tryParseIP(t);
        if (!ip) {
          a.error(['ip'], `"${t}" is not a valid IP address`);
          return;
        }
        const hostname = a.str(['hostname']);
        const nodeName = a.str(['nodeName']);
        const tr = a.object(['targetRef']);
        const list = byFamily.get(ip.family) ?? [];
        list.push({
          addresses: [ip],
          conditions: { ready, serving: ready, terminating: false },
          ...(hostname !== undefined ? { hostname } : {}),
          ...(nodeName !== undefined ? { nodeName } : {}),
          ...targetRefOf(tr, meta.namespace),
        });
        byFamily.set(ip.family, list);
      });
    }
    for (const [fam, endpoints] of [...byFamily.entries()].sort((a, b) => a[0] - b[0])) {
      out.push({
        kind: 'EndpointSlice',
        meta: {
          ...meta,
          name: `${meta.name}-${i}${fam === 6 ? '-v6' : ''}`,
          labels: {
            ...meta.labels,
            [SERVICE_NAME_LABEL]: meta.name,
            [MANAGED_BY_LABEL]: 'endpointslicemirroring-controller.k8s.io',
          },
        },
        serviceName: meta.name,
        addressType: fam === 4 ? 'IPv4' : 'IPv6',
        ports,
        endpoints,
        source: 'mirror',
        raw: f.body,
      });
    }
  });
  return out;
}
