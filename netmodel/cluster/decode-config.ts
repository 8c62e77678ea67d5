/** kpath's Cluster object and kube-proxy's KubeProxyConfiguration. */
import { type Prefix, prefixOverlaps, prefixSize, tryParsePrefix } from '../addr.js';
import { CLUSTER_DEFAULTS, NETWORK_BACKENDS, PROXY_DEFAULTS } from './defaults.js';
import type { Fields } from './fields.js';
import { dns1123Subdomain } from './names.js';
import type {
  ClusterConfig,
  IpvsProxyConfig,
  LoopbackMapping,
  NetworkBackend,
  NetworkConfig,
  ProxyConfig,
} from './objects.js';

/** `spec.network: {plugin, backend, mtu}`: the plugin, a backend that plugin has, an MTU an interface can take. */
function decodeNetwork(s: Fields): NetworkConfig {
  const n = s.at(['network']);
  const raw = s.get(['network']);
  if (raw === undefined || raw === null) return CLUSTER_DEFAULTS.network;
  const plugin = n.oneOf(['plugin'], ['bridge', 'flannel', 'calico'] as const) ?? 'bridge';
  const allowed: readonly NetworkBackend[] = NETWORK_BACKENDS[plugin];
  const backendText = n.str(['backend']);
  let backend: NetworkBackend = allowed[0]!;
  if (backendText !== undefined) {
    if ((allowed as readonly string[]).includes(backendText)) backend = backendText as NetworkBackend;
    else
      n.error(
        ['backend'],
        `"${backendText}" is not a backend of ${plugin} (expected ${allowed.map((b) => `"${b}"`).join(' or ')})`,
      );
  }
  // 68: the smallest IPv4 MTU (RFC 791); 65535: the largest an IPv4 packet can be.
  const mtu = n.int(['mtu'], { min: 68, max: 65535 });
  return { plugin, backend, ...(mtu !== undefined ? { mtu } : {}) };
}

function cidrList(f: Fields, path: (string | number)[], text: string, what: string): Prefix[] {
  const out: Prefix[] = [];
  const parts = text.split(',').map((t) => t.trim());
  for (const t of parts) {
    const p = tryParsePrefix(t, { strict: true });
    if (!p || !t.includes('/')) f.error(path, `"${t}" is not a valid CIDR with zero host bits (${what})`);
    else out.push(p);
  }
  if (out.length === 2 && out[0]!.ip.family === out[1]!.ip.family)
    f.error(path, 'a dual-stack list needs one IPv4 and one IPv6 CIDR');
  if (out.length > 2) f.error(path, 'at most two CIDRs (one per family)');
  return out;
}

export function decodeClusterConfig(f: Fields): ClusterConfig {
  const s = f.at(['spec']);
  const d = CLUSTER_DEFAULTS;
  const domainText = s.str(['domain']);
  let domain = d.domain;
  if (domainText !== undefined) {
    const bare = domainText.replace(/\.$/, '');
    const e = dns1123Subdomain(bare);
    if (e) s.error(['domain'], `invalid domain "${domainText}": ${e}`);
    else domain = bare;
  }
  const podText = s.str(['podCIDR']);
  const podCIDRs =
    podText !== undefined ? cidrList(s, ['podCIDR'], podText, 'e.g. 10.244.0.0/16') : d.podCIDRs;
  const svcText = s.str(['serviceCIDR']);
  const serviceCIDRs =
    svcText !== undefined
      ? cidrList(s, ['serviceCIDR'], svcText, 'e.g. 10.96.0.0/12 or 10.96.0.0/12,fd00:10:96::/112')
      : d.serviceCIDRs;
  for (const p of serviceCIDRs) {
    if (p.ip.family === 4 && p.bits < 8)
      s.error(['serviceCIDR'], `${p.text} is too large (at most /8... use /12 or smaller)`);
    if (prefixSize(p) < 8n)
      s.error(['serviceCIDR'], `${p.text} is too small for a service range (at least 8 addresses)`);
  }
  for (const a of podCIDRs)
    for (const b of serviceCIDRs) {
      if (prefixOverlaps(a, b)) s.error(['serviceCIDR'], `${b.text} overlaps the pod CIDR ${a.text}`);
    }
  const nodeText = s.str(['nodeCIDR']);
  const nodeCIDR =
    nodeText !== undefined
      ? (cidrList(s, ['nodeCIDR'], nodeText, 'e.g. 10.0.0.0/24')[0] ?? d.nodeCIDR)
      : d.nodeCIDR;
  const maskV4 = s.int(['nodeCIDRMaskSize'], { min: 8, max: 30 }) ?? d.nodeCIDRMaskSize.v4;
  for (const p of podCIDRs) {
    if (p.ip.family === 4 && p.bits > maskV4)
      s.error(['podCIDR'], `${p.text} is smaller than one node's /${maskV4}`);
  }
  let nodePortRange = d.nodePortRange;
  const npr = s.get(['nodePortRange']);
  if (npr !== undefined && npr !== null) {
    const m = typeof npr === 'string' ? /^\s*(\d+)\s*-\s*(\d+)\s*$/.exec(npr) : null;
    const min = m ? Number(m[1]) : Number.NaN;
    const max = m ? Number(m[2]) : Number.NaN;
    if (!m || min < 1 || max > 65535 || min > max)
      s.error(['nodePortRange'], `"${String(npr)}" is not a port range such as 30000-32767`);
    else nodePortRange = { min, max };
  }
  const poolText = s.str(['loadBalancerPool']);
  const loadBalancerPool =
    poolText !== undefined
      ? cidrList(s, ['loadBalancerPool'], poolText, 'e.g. 10.250.0.0/24')
      : d.loadBalancerPool;
  const dns = s.at(['dns']);
  const pods = dns.oneOf(['pods'], ['insecure', 'verified', 'disabled'] as const) ?? d.dns.pods;
  const ttl = dns.int(['ttl'], { min: 0, max: 3600 }) ?? d.dns.ttl;
  const addon = dns.bool(['addon']) ?? d.dns.addon;
  const loopbackMap: LoopbackMapping[] = [];
  (s.array(['loopbackMap']) ?? []).forEach((_, i) => {
    const m = s.at(['loopbackMap', i]);
    const model = tryParsePrefix(m.str(['model']) ?? '', { strict: true });
    const loopback = tryParsePrefix(m.str(['loopback']) ?? '', { strict: true });
    if (!model) m.error(['model'], 'required: the model prefix, e.g. 172.17.0.0/16');
    if (!loopback) m.error(['loopback'], 'required: a loopback prefix of the same size, e.g. 127.17.0.0/16');
    if (!model || !loopback) return;
    if (loopback.ip.family !== 4 || loopback.bits < 8 || loopback.ip.n >>> 24 !== 127) {
      m.error(['loopback'], `${loopback.text} is not inside 127.0.0.0/8`);
    } else if (model.bits !== loopback.bits || model.ip.family !== 4) {
      m.error(['loopback'], `must be the same size as ${model.text}`);
    } else loopbackMap.push({ model, loopback });
  });
  return {
    name: f.str(['metadata', 'name']) ?? d.name,
    domain,
    podCIDRs,
    nodeCIDRMaskSize: { v4: maskV4, v6: d.nodeCIDRMaskSize.v6 },
    serviceCIDRs,
    nodeCIDR,
    nodePortRange,
    loadBalancerPool,
    dns: { pods, ttl, addon },
    loopbackMap,
    network: decodeNetwork(s),
    ...(f.origin ? { origin: f.origin } : {}),
  };
}

/**
 * The schedulers a Linux kernel ships (net/netfilter/ipvs/ip_vs_*.c). kube-proxy >= 1.27 no longer
 * validates the name (kubernetes PR 114878): it tries the scheduler at start-up by adding a dummy
 * virtual server 198.51.100.0:20000 and exits with "can't use the IPVS proxier" when the kernel has no
 * such module. The emulated kernel has exactly these, so kpath refuses any other name up front.
 */
export const IPVS_SCHEDULERS = [
  'rr',
  'wrr',
  'lc',
  'wlc',
  'lblc',
  'lblcr',
  'dh',
  'sh',
  'sed',
  'nq',
  'mh',
  'fo',
  'ovf',
  'twos',
] as const;

const DURATION_UNITS: Record<string, number> = {
  ns: 1e-9,
  us: 1e-6,
  µs: 1e-6,
  μs: 1e-6,
  ms: 1e-3,
  s: 1,
  m: 60,
  h: 3600,
};

/** Go's time.ParseDuration (what metav1.Duration decodes with), in seconds; undefined if malformed. */
export function parseGoDuration(text: string): number | undefined {
  const m = /^([-+]?)(.*)$/.exec(text)!;
  let rest = m[2]!;
  if (rest === '0') return 0;
  if (rest === '') return undefined;
  let total = 0;
  while (rest !== '') {
    const part = /^(\d+\.?\d*|\.\d+)(ns|us|µs|μs|ms|s|m|h)/.exec(rest);
    if (!part) return undefined;
    total += Number(part[1]) * DURATION_UNITS[part[2]!]!;
    rest = rest.slice(part[0].length);
  }
  return m[1] === '-' ? -total : total;
}

function durationField(f: Fields, path: string[], fallback: number): number {
  const text = f.str(path);
  if (text === undefined) return fallback;
  const v = parseGoDuration(text);
  if (v === undefined) {
    f.error(path, `"${text}" is not a duration such as 30s, 1m30s or 500ms`);
    return fallback;
  }
  return v;
}

/**
 * KubeProxyConfiguration.ipvs as kube-proxy v1.31 defaults and validates it (v1alpha1 defaults:
 * syncPeriod 30s when zero; validation, only in ipvs mode: syncPeriod > 0, minSyncPeriod >= 0 and
 * <= syncPeriod, timeouts >= 0, excludeCIDRs valid CIDRs; the scheduler is tried, not validated).
 */
function decodeIpvsConfig(f: Fields, ipvsMode: boolean): IpvsProxyConfig {
  const d = PROXY_DEFAULTS.ipvs;
  const v = f.at(['ipvs']);
  let syncPeriodSeconds = durationField(v, ['syncPeriod'], d.syncPeriodSeconds);
  if (syncPeriodSeconds === 0) syncPeriodSeconds = d.syncPeriodSeconds;
  const minSyncPeriodSeconds = durationField(v, ['minSyncPeriod'], d.minSyncPeriodSeconds);
  const tcpTimeoutSeconds = durationField(v, ['tcpTimeout'], d.tcpTimeoutSeconds);
  const tcpFinTimeoutSeconds = durationField(v, ['tcpFinTimeout'], d.tcpFinTimeoutSeconds);
  const udpTimeoutSeconds = durationField(v, ['udpTimeout'], d.udpTimeoutSeconds);
  const excludeCIDRs: Prefix[] = [];
  (v.strArray(['excludeCIDRs']) ?? []).forEach((t, i) => {
    const p = tryParsePrefix(t, { strict: false });
    if (!p || !t.includes('/')) {
      if (ipvsMode) v.error(['excludeCIDRs', i], `"${t}" must be a valid CIDR (e.g. 10.0.0.0/24)`);
    } else excludeCIDRs.push(p);
  });
  if (ipvsMode) {
    if (syncPeriodSeconds <= 0) v.error(['syncPeriod'], 'must be greater than 0');
    if (minSyncPeriodSeconds < 0) v.error(['minSyncPeriod'], 'must be greater than or equal to 0');
    else if (minSyncPeriodSeconds > syncPeriodSeconds)
      v.error(['syncPeriod'], 'must be greater than or equal to ipvs.minSyncPeriod');
    const timeouts = [
      ['tcpTimeout', tcpTimeoutSeconds],
      ['tcpFinTimeout', tcpFinTimeoutSeconds],
      ['udpTimeout', udpTimeoutSeconds],
    ] as const;
    for (const [name, secs] of timeouts) if (secs < 0) v.error([name], 'must be greater than or equal to 0');
  }
  return {
    syncPeriodSeconds,
    minSyncPeriodSeconds,
    tcpTimeoutSeconds,
    tcpFinTimeoutSeconds,
    udpTimeoutSeconds,
    excludeCIDRs,
  };
}

export function decodeProxyConfig(f: Fields): ProxyConfig {
  const d = PROXY_DEFAULTS;
  const modeText = f.str(['mode']);
  let mode = d.mode;
  if (modeText !== undefined && modeText !== '') {
    const m = f.oneOf(['mode'], ['iptables', 'ipvs', 'userspace', 'nftables'] as const);
    if (m) mode = m;
  }
  const ccText = f.str(['clusterCIDR']);
  const clusterCIDRs = ccText ? cidrList(f, ['clusterCIDR'], ccText, 'e.g. 10.244.0.0/16') : d.clusterCIDRs;
  const ipt = f.at(['iptables']);
  const masqueradeBit = ipt.int(['masqueradeBit'], { min: 0, max: 31 }) ?? d.masqueradeBit;
  const ipvs = f.at(['ipvs']);
  const schedText = ipvs.str(['scheduler']);
  let ipvsScheduler = d.ipvsScheduler;
  if (schedText) {
    if ((IPVS_SCHEDULERS as readonly string[]).includes(schedText)) ipvsScheduler = schedText;
    else
      ipvs.error(
        ['scheduler'],
        `the kernel has no IPVS scheduler "${schedText}" (kube-proxy would fail to start: "can't use the IPVS proxier"); use one of ${IPVS_SCHEDULERS.map((n) => `"${n}"`).join(', ')}, or leave it empty for "rr"`,
      );
  }
  const nodePortAddresses: (Prefix | 'primary')[] = [];
  (f.strArray(['nodePortAddresses']) ?? []).forEach((t, i) => {
    if (t === 'primary') {
      nodePortAddresses.push('primary');
      return;
    }
    const p = tryParsePrefix(t, { strict: true });
    if (!p || !t.includes('/'))
      f.error(['nodePortAddresses', i], `"${t}" is not a CIDR (e.g. 10.0.0.0/24) or "primary"`);
    else nodePortAddresses.push(p);
  });
  const detectLocalMode =
    f.oneOf(['detectLocalMode'], [
      'ClusterCIDR',
      'NodeCIDR',
      'BridgeInterface',
      'InterfaceNamePrefix',
    ] as const) ?? d.detectLocalMode;
  const dl = f.at(['detectLocal']);
  const bridgeInterface = dl.str(['bridgeInterface']);
  const interfaceNamePrefix = dl.str(['interfaceNamePrefix']);
  if (detectLocalMode === 'BridgeInterface' && !bridgeInterface)
    dl.error(['bridgeInterface'], 'required when detectLocalMode is BridgeInterface');
  if (detectLocalMode === 'InterfaceNamePrefix' && !interfaceNamePrefix) {
    dl.error(['interfaceNamePrefix'], 'required when detectLocalMode is InterfaceNamePrefix');
  }
  const syncText = ipt.str(['syncPeriod']);
  let syncPeriodSeconds = d.syncPeriodSeconds;
  if (syncText !== undefined) {
    const m = /^(\d+)(s|m)$/.exec(syncText);
    if (!m) ipt.error(['syncPeriod'], `"${syncText}" is not a duration such as 30s or 1m`);
    else syncPeriodSeconds = Number(m[1]) * (m[2] === 'm' ? 60 : 1);
  }
  const ct = f.at(['conntrack']);
  const maxPerCore = ct.int(['maxPerCore'], { min: 0, max: 2 ** 31 - 1 });
  // v1alpha1's default min (kube-proxy's --conntrack-min) is 131072.
  const ctMin = ct.int(['min'], { min: 0, max: 2 ** 31 - 1 }) ?? 131072;
  return {
    mode,
    clusterCIDRs,
    ...(maxPerCore !== undefined && maxPerCore > 0 ? { conntrack: { maxPerCore, min: ctMin } } : {}),
    masqueradeAll: ipt.bool(['masqueradeAll']) ?? d.masqueradeAll,
    masqueradeBit,
    localhostNodePorts: ipt.bool(['localhostNodePorts']) ?? d.localhostNodePorts,
    ipvsScheduler,
    ipvsStrictARP: ipvs.bool(['strictARP']) ?? d.ipvsStrictARP,
    ipvs: decodeIpvsConfig(f, mode === 'ipvs'),
    nodePortAddresses,
    detectLocalMode,
    detectLocal: {
      ...(bridgeInterface ? { bridgeInterface } : {}),
      ...(interfaceNamePrefix ? { interfaceNamePrefix } : {}),
    },
    syncPeriodSeconds,
    ...(f.origin ? { origin: f.origin } : {}),
  };
}
