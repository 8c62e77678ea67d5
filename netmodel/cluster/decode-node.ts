/** Node: pod CIDRs, addresses, taints, readiness. */
import { type IP, type Prefix, tryParseIP, tryParsePrefix } from '../addr.js';
import type { Fields } from './fields.js';
import type { Meta, Node, NodeAddress, Taint } from './objects.js';

export function decodeNode(f: Fields, meta: Meta): Node {
  const s = f.at(['spec']);
  const podCIDRs: Prefix[] = [];
  const cidrTexts = s.strArray(['podCIDRs']) ?? [];
  const single = s.str(['podCIDR']);
  if (single !== undefined && cidrTexts.length > 0 && cidrTexts[0] !== single) {
    s.error(['podCIDRs', 0], `must match spec.podCIDR ("${single}")`);
  }
  const texts = cidrTexts.length ? cidrTexts : single !== undefined ? [single] : [];
  texts.forEach((t, i) => {
    const p = tryParsePrefix(t, { strict: true });
    const path = cidrTexts.length ? ['podCIDRs', i] : ['podCIDR'];
    if (!p || !t.includes('/'))
      s.error(path, `"${t}" is not a valid CIDR with zero host bits (e.g. 10.244.1.0/24)`);
    else podCIDRs.push(p);
  });
  const taints: Taint[] = [];
  (s.array(['taints']) ?? []).forEach((_, i) => {
    const t = s.at(['taints', i]);
    const key = t.str(['key']);
    if (!key) t.error(['key'], 'required: a taint key');
    const effect = t.oneOf(['effect'], ['NoSchedule', 'PreferNoSchedule', 'NoExecute'] as const);
    if (!effect && !t.has(['effect']))
      t.error(['effect'], 'required: NoSchedule, PreferNoSchedule or NoExecute');
    if (key && effect) taints.push({ key, value: t.str(['value']) ?? '', effect });
  });
  const st = f.at(['status']);
  const addresses: NodeAddress[] = [];
  const internalIPs: IP[] = [];
  (st.array(['addresses']) ?? []).forEach((_, i) => {
    const a = st.at(['addresses', i]);
    const type = a.oneOf(['type'], [
      'InternalIP',
      'ExternalIP',
      'Hostname',
      'InternalDNS',
      'ExternalDNS',
    ] as const);
    const address = a.str(['address']);
    if (!type || address === undefined) return;
    if (type === 'InternalIP' || type === 'ExternalIP') {
      const ip = tryParseIP(address);
      if (!ip) {
        a.error(['address'], `"${address}" is not a valid IP address`);
        return;
      }
      if (type === 'InternalIP' && !internalIPs.some((x) => x.family === ip.family)) internalIPs.push(ip);
    }
    if (type === 'InternalIP' || type === 'ExternalIP' || type === 'Hostname')
      addresses.push({ type, address });
  });
  let ready = true;
  (st.array(['conditions']) ?? []).forEach((_, i) => {
    const c = st.at(['conditions', i]);
    if (c.str(['type']) === 'Ready') ready = c.str(['status']) === 'True';
  });
  return {
    kind: 'Node',
    meta,
    podCIDRs,
    internalIPs,
    addresses,
    taints,
    unschedulable: s.bool(['unschedulable']) ?? false,
    ready,
    raw: f.body,
    derived: false,
  };
}
