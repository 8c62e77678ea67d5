/**
 * Service: everything the apiserver checks on one Service by itself. Cross-object checks (CIDR
 * membership, duplicate cluster IPs and node ports) happen at allocation.
 */
import { type Family, type IP, isLoopback, type Prefix, tryParseIP, tryParsePrefix } from '../addr.js';
import type { Fields } from './fields.js';
import { dns1123Label, dns1123Subdomain, ianaSvcName } from './names.js';
import type { Meta, Protocol, Service, ServicePort, ServiceType } from './objects.js';
import { PROTOCOLS } from './objects.js';

export const DEFAULT_AFFINITY_TIMEOUT = 10800;
export const MAX_AFFINITY_TIMEOUT = 86400;

const TYPES: readonly ServiceType[] = ['ClusterIP', 'NodePort', 'LoadBalancer', 'ExternalName'];

function familyOf(text: string): Family | undefined {
  return text === 'IPv4' ? 4 : text === 'IPv6' ? 6 : undefined;
}

export function decodeService(f: Fields, meta: Meta): Service {
  const s = f.at(['spec']);
  const type = s.oneOf(['type'], TYPES) ?? 'ClusterIP';
  const external = type === 'NodePort' || type === 'LoadBalancer';

  // Cluster IPs.
  const clusterIPText = s.str(['clusterIP']);
  const clusterIPsText = s.strArray(['clusterIPs']);
  let headless = false;
  const clusterIPs: IP[] = [];
  if (
    clusterIPText !== undefined &&
    clusterIPsText &&
    clusterIPsText.length > 0 &&
    clusterIPsText[0] !== clusterIPText
  ) {
    s.error(['clusterIPs', 0], `must match spec.clusterIP ("${clusterIPText}")`);
  }
  const ipTexts =
    clusterIPsText && clusterIPsText.length > 0 ? clusterIPsText : clusterIPText ? [clusterIPText] : [];
  const ipPath = (i: number) =>
    clusterIPsText && clusterIPsText.length > 0 ? ['clusterIPs', i] : ['clusterIP'];
  ipTexts.forEach((t, i) => {
    if (t === 'None') {
      if (i > 0) s.error(ipPath(i), '"None" may only be the first and only value');
      headless = true;
      return;
    }
    if (t === '') return;
    const ip = tryParseIP(t);
    if (!ip)
      s.error(
        ipPath(i),
        `"${t}" is not a valid IP address (give an address inside the service CIDR, "None" for a headless service, or leave it out to allocate one)`,
      );
    else clusterIPs.push(ip);
  });
  if (headless && clusterIPs.length > 0)
    s.error(['clusterIPs'], 'a headless service ("None") cannot also have addresses');
  if (clusterIPs.length === 2 && clusterIPs[0]!.family === clusterIPs[1]!.family) {
    s.error(['clusterIPs'], 'dual-stack clusterIPs must be one IPv4 and one IPv6 address');
  }
  if (clusterIPs.length > 2) s.error(['clusterIPs'], 'at most two addresses (one per family)');
  if (type === 'ExternalName' && (clusterIPs.length > 0 || headless)) {
    s.error(['clusterIP'], 'must be empty for ExternalName services');
  }
  if (headless && external) s.error(['clusterIP'], `may not be "None" for ${type} services`);

  // Families.
  const ipFamilies: Family[] = [];
  (s.strArray(['ipFamilies']) ?? []).forEach((t, i) => {
    const fam = familyOf(t);
    if (!fam) s.error(['ipFamilies', i], `unsupported value "${t}": supported values: "IPv4", "IPv6"`);
    else if (ipFamilies.includes(fam)) s.error(['ipFamilies', i], `duplicate family "${t}"`);
    else ipFamilies.push(fam);
  });
  clusterIPs.forEach((ip, i) => {
    if (ipFamilies[i] !== undefined && ipFamilies[i] !== ip.family) {
      s.error(['ipFamilies', i], `must match the family of clusterIPs[${i}] (${ip.text})`);
    }
  });
  let ipFamilyPolicy = s.oneOf(['ipFamilyPolicy'], [
    'SingleStack',
    'PreferDualStack',
    'RequireDualStack',
  ] as const);
  if (!ipFamilyPolicy)
    ipFamilyPolicy = clusterIPs.length === 2 || ipFamilies.length === 2 ? 'RequireDualStack' : 'SingleStack';
  if (ipFamilyPolicy === 'SingleStack' && (clusterIPs.length > 1 || ipFamilies.length > 1)) {
    s.error(
      ['ipFamilyPolicy'],
      'SingleStack allows only one address family; use RequireDualStack or PreferDualStack',
    );
  }

  // Ports.
  const ports: ServicePort[] = [];
  const portList = s.array(['ports']) ?? [];
  if (portList.length === 0 && !headless && type !== 'ExternalName') {
    s.error(['ports'], 'required: at least one port (only headless and ExternalName services may have none)');
  }
  const seenNames = new Set<string>();
  const seenPorts = new Set<string>();
  portList.forEach((_, i) => {
    const p = s.at(['ports', i]);
    const name = p.str(['name']) ?? '';
    if (name === '' && portList.length > 1)
      p.error(['name'], 'required: a name for each port when the service has more than one');
    if (name !== '') {
      const e = dns1123Label(name);
      if (e) p.error(['name'], `invalid port name "${name}": ${e}`);
      if (seenNames.has(name)) p.error(['name'], `duplicate port name "${name}"`);
      seenNames.add(name);
    }
    const protocol = (p.oneOf(['protocol'], PROTOCOLS) ?? 'TCP') as Protocol;
    const port = p.int(['port'], { min: 1, max: 65535 });
    if (port === undefined && !p.has(['port'])) p.error(['port'], 'required: a port number 1-65535');
    if (port !== undefined) {
      const key = `${port}/${protocol}`;
      if (seenPorts.has(key))
        p.error([], `duplicate port ${port}/${protocol} (each port and protocol pair may appear once)`);
      seenPorts.add(key);
    }
    let targetPort: number | string = port ?? 0;
    const tp = p.get(['targetPort']);
    // SetDefaults_Service: a targetPort of 0 or "" (what a Go client that leaves it out sends) is
    // the service port.
    if (tp === 0 || tp === '') {
      // the default above
    } else if (typeof tp === 'number') {
      if (!Number.isInteger(tp) || tp < 1 || tp > 65535)
        p.error(['targetPort'], `must be between 1 and 65535, inclusive (got ${tp})`);
      else targetPort = tp;
    } else if (typeof tp === 'string') {
      if (/^\d+$/.test(tp)) {
        p.error(
          ['targetPort'],
          `"${tp}" is a string; write the number without quotes (a string targetPort names a container port)`,
        );
      } else {
        const e = ianaSvcName(tp);
        if (e) p.error(['targetPort'], `invalid named port "${tp}": ${e}`);
        else targetPort = tp;
      }
    } else if (tp !== undefined && tp !== null) {
      p.error(['targetPort'], 'expected a port number or the name of a container port');
    }
    let nodePort: number | null = null;
    if (p.has(['nodePort'])) {
      const np = p.int(['nodePort'], { min: 1, max: 65535 });
      if (np !== undefined) {
        if (!external)
          p.error(['nodePort'], `may not be used when type is "${type}" (use NodePort or LoadBalancer)`);
        else nodePort = np;
      }
    }
    const appProtocol = p.str(['appProtocol']);
    if (port !== undefined) {
      ports.push({
        name,
        protocol,
        port,
        targetPort,
        nodePort,
        ...(appProtocol !== undefined ? { appProtocol } : {}),
      });
    }
  });

  // Affinity.
  const sessionAffinity = s.oneOf(['sessionAffinity'], ['None', 'ClientIP'] as const) ?? 'None';
  let affinityTimeoutSeconds = DEFAULT_AFFINITY_TIMEOUT;
  if (s.has(['sessionAffinityConfig'])) {
    if (sessionAffinity === 'None') {
      s.error(['sessionAffinityConfig'], 'must not be set when sessionAffinity is None');
    } else {
      const t = s.int(['sessionAffinityConfig', 'clientIP', 'timeoutSeconds'], {
        min: 1,
        max: MAX_AFFINITY_TIMEOUT,
      });
      if (t !== undefined) affinityTimeoutSeconds = t;
    }
  }

  // Traffic policies.
  const externallyAccessible = external || s.has(['externalIPs']);
  let externalTrafficPolicy = s.oneOf(['externalTrafficPolicy'], ['Cluster', 'Local'] as const);
  if (externalTrafficPolicy && !externallyAccessible) {
    s.error(
      ['externalTrafficPolicy'],
      'may only be set for externally-accessible services (NodePort, LoadBalancer, or with externalIPs)',
    );
    externalTrafficPolicy = undefined;
  }
  const internalTrafficPolicy =
    s.oneOf(['internalTrafficPolicy'], ['Cluster', 'Local'] as const) ?? 'Cluster';

  const externalIPs: IP[] = [];
  (s.strArray(['externalIPs']) ?? []).forEach((t, i) => {
    const ip = tryParseIP(t);
    if (!ip) s.error(['externalIPs', i], `"${t}" is not a valid IP address`);
    else if (isLoopback(ip))
      s.error(['externalIPs', i], 'may not be in the loopback range (127.0.0.0/8, ::1/128)');
    else externalIPs.push(ip);
  });

  const loadBalancerSourceRanges: Prefix[] = [];
  (s.strArray(['loadBalancerSourceRanges']) ?? []).forEach((t, i) => {
    const strictP = tryParsePrefix(t);
    const p = strictP ?? tryParsePrefix(t, { sloppy: true });
    if (!p) s.error(['loadBalancerSourceRanges', i], `"${t}" is not a valid CIDR (e.g. 203.0.113.0/24)`);
    else {
      if (!strictP)
        s.warning(['loadBalancerSourceRanges', i], `"${t}" was normalised to ${p.text} (as kube-proxy does)`);
      loadBalancerSourceRanges.push(p);
    }
  });
  if (loadBalancerSourceRanges.length > 0 && type !== 'LoadBalancer') {
    s.warning(['loadBalancerSourceRanges'], 'has no effect unless type is LoadBalancer');
  }

  const loadBalancerIngress: IP[] = [];
  const ingress = f.at(['status', 'loadBalancer']);
  (ingress.array(['ingress']) ?? []).forEach((_, i) => {
    const t = ingress.at(['ingress', i]).str(['ip']);
    if (t === undefined) return;
    const ip = tryParseIP(t);
    if (!ip) ingress.at(['ingress', i]).error(['ip'], `"${t}" is not a valid IP address`);
    else loadBalancerIngress.push(ip);
  });
  if (loadBalancerIngress.length > 0 && type !== 'LoadBalancer') {
    ingress.warning(['ingress'], 'ignored unless type is LoadBalancer');
    loadBalancerIngress.length = 0;
  }

  let healthCheckNodePort: number | null = null;
  if (s.has(['healthCheckNodePort'])) {
    const h = s.int(['healthCheckNodePort'], { min: 1, max: 65535 });
    if (h !== undefined) {
      if (type !== 'LoadBalancer' || externalTrafficPolicy !== 'Local') {
        s.error(
          ['healthCheckNodePort'],
          'may only be set when type is LoadBalancer and externalTrafficPolicy is Local',
        );
      } else healthCheckNodePort = h;
    }
  }

  let externalName: string | null = null;
  if (type === 'ExternalName') {
    const n = s.str(['externalName']);
    if (!n)
      s.error(['externalName'], 'required for ExternalName services: a DNS name such as db.example.com');
    else {
      const bare = n.endsWith('.') ? n.slice(0, -1) : n;
      const e = dns1123Subdomain(bare);
      if (e) s.error(['externalName'], `invalid externalName "${n}": ${e}`);
      else externalName = bare;
    }
  } else if (s.has(['externalName'])) {
    s.warning(['externalName'], `ignored unless type is ExternalName (type is ${type})`);
  }

  const selectorMap = s.strMap(['selector']);
  const selector = selectorMap && Object.keys(selectorMap).length > 0 ? selectorMap : null;
  if (type === 'ExternalName' && selector) s.warning(['selector'], 'ignored for ExternalName services');

  return {
    kind: 'Service',
    meta,
    type,
    selector: type === 'ExternalName' ? null : selector,
    headless,
    clusterIPs,
    ipFamilies: ipFamilies.length ? ipFamilies : clusterIPs.map((ip) => ip.family),
    ipFamilyPolicy,
    ports,
    sessionAffinity,
    affinityTimeoutSeconds,
    externalTrafficPolicy: externalTrafficPolicy ?? 'Cluster',
    internalTrafficPolicy,
    externalIPs,
    loadBalancerIngress,
    loadBalancerSourceRanges,
    publishNotReadyAddresses: s.bool(['publishNotReadyAddresses']) ?? false,
    healthCheckNodePort,
    externalName,
    raw: f.body,
  };
}
