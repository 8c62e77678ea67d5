/**
 * NetworkPolicy (networking.k8s.io/v1): decoded and validated as the apiserver does
 * (pkg/apis/networking/validation ValidateNetworkPolicySpec), with the v1 defaults applied
 * (SetDefaults_NetworkPolicy: policyTypes is Ingress, plus Egress when spec.egress is non-empty;
 * SetDefaults_NetworkPolicyPort: protocol TCP). Each rule keeps the file:line it was written at.
 */
import { type Prefix, prefixCovers, tryParsePrefix } from '../addr.js';
import { decodeLabelSelector } from './decode-workload.js';
import type { FieldPath } from './diagnostics.js';
import type { Fields } from './fields.js';
import { ianaSvcName, labelValue, qualifiedName } from './names.js';
import type {
  IPBlock,
  LabelSelector,
  Meta,
  NetworkPolicy,
  NetworkPolicyPeer,
  NetworkPolicyPort,
  NetworkPolicyRule,
  PolicyType,
  Protocol,
} from './objects.js';

const PROTOCOLS: readonly Protocol[] = ['TCP', 'UDP', 'SCTP'];
const POLICY_TYPES: readonly PolicyType[] = ['Ingress', 'Egress'];

/** A label selector as ValidateLabelSelector checks it: keys are qualified names, values label values. */
function selector(f: Fields, path: FieldPath): LabelSelector {
  const sel = decodeLabelSelector(f, [...path]);
  const s = f.at(path);
  for (const [k, v] of Object.entries(sel.matchLabels)) {
    const ek = qualifiedName(k);
    if (ek) s.error(['matchLabels', k], `invalid label key "${k}": ${ek}`);
    const ev = labelValue(v);
    if (ev) s.error(['matchLabels', k], `invalid label value "${v}": ${ev}`);
  }
  (s.array(['matchExpressions']) ?? []).forEach((_, i) => {
    (s.strArray(['matchExpressions', i, 'values']) ?? []).forEach((v, j) => {
      const ev = labelValue(v);
      if (ev) s.error(['matchExpressions', i, 'values', j], `invalid label value "${v}": ${ev}`);
    });
  });
  return sel;
}

/** A CIDR as IsValidCIDRForLegacyField takes it: host bits may be set (they are cleared), with a warning. */
function cidr(f: Fields, path: FieldPath): Prefix | undefined {
  const text = f.str(path);
  if (text === undefined) return undefined;
  const p = tryParsePrefix(text, { sloppy: false });
  if (!p || !text.includes('/')) {
    f.error(path, `invalid CIDR "${text}": must be a valid CIDR value, (e.g. 10.9.8.0/24 or 2001:db8::/64)`);
    return undefined;
  }
  if (p.text !== text && tryParsePrefix(text, { strict: true }) === undefined)
    f.warning(path, `"${text}" has host bits set; it means ${p.text}`);
  return p;
}

function ipBlock(f: Fields, path: FieldPath): IPBlock | undefined {
  const b = f.at(path);
  if (!b.has(['cidr']) || b.str(['cidr']) === '') {
    b.error(['cidr'], 'Required value');
    return undefined;
  }
  const block = cidr(b, ['cidr']);
  const except: Prefix[] = [];
  (b.array(['except']) ?? []).forEach((_, i) => {
    const e = cidr(b, ['except', i]);
    if (!e || !block) return;
    if (e.ip.family !== block.ip.family || !prefixCovers(block, e) || e.bits <= block.bits) {
      b.error(['except', i], `invalid value "${b.get(['except', i])}": must be a strict subset of \`cidr\``);
      return;
    }
    except.push(e);
  });
  return block ? { cidr: block, except } : undefined;
}

function peer(f: Fields, path: FieldPath): NetworkPolicyPeer | undefined {
  const p = f.at(path);
  const has = (k: string) => p.has([k]);
  const n = Number(has('podSelector')) + Number(has('namespaceSelector')) + Number(has('ipBlock'));
  if (n === 0) {
    f.error(path, 'Required value: must specify a peer (podSelector, namespaceSelector or ipBlock)');
    return undefined;
  }
  if (n > 1 && has('ipBlock')) {
    f.error(path, 'Forbidden: may not specify both ipBlock and another peer');
    return undefined;
  }
  if (has('ipBlock')) {
    const b = ipBlock(p, ['ipBlock']);
    return b ? { ipBlock: b } : undefined;
  }
  return {
    ...(has('podSelector') ? { podSelector: selector(p, ['podSelector']) } : {}),
    ...(has('namespaceSelector') ? { namespaceSelector: selector(p, ['namespaceSelector']) } : {}),
  };
}

function port(f: Fields, path: FieldPath): NetworkPolicyPort | undefined {
  const p = f.at(path);
  const protocol = p.has(['protocol']) ? p.oneOf(['protocol'], PROTOCOLS) : 'TCP';
  const raw = p.get(['port']);
  const endPort = p.has(['endPort']) ? p.int(['endPort']) : undefined;
  let num: number | string | undefined;
  let ok = protocol !== undefined;
  if (raw === undefined || raw === null) {
    if (endPort !== undefined) {
      p.error(['endPort'], `invalid value ${endPort}: may not be specified when \`port\` is not specified`);
      ok = false;
    }
  } else if (typeof raw === 'number') {
    if (!Number.isInteger(raw) || raw < 1 || raw > 65535) {
      p.error(['port'], `invalid value ${raw}: must be between 1 and 65535, inclusive`);
      ok = false;
    }
    num = raw;
    if (endPort !== undefined) {
      if (endPort < raw) {
        p.error(['endPort'], `invalid value ${endPort}: must be greater than or equal to \`port\``);
        ok = false;
      }
      if (endPort < 1 || endPort > 65535) {
        p.error(['endPort'], `invalid value ${endPort}: must be between 1 and 65535, inclusive`);
        ok = false;
      }
    }
  } else if (typeof raw === 'string') {
    if (endPort !== undefined) {
      p.error(['endPort'], `invalid value ${endPort}: may not be specified when \`port\` is non-numeric`);
      ok = false;
    }
    const e = /^\d+$/.test(raw)
      ? 'a port number must not be quoted (write it without quotes)'
      : ianaSvcName(raw);
    if (e) {
      p.error(['port'], `invalid value "${raw}": ${e}`);
      ok = false;
    }
    num = raw;
  } else {
    p.error(['port'], 'expected a port number or a container port name');
    ok = false;
  }
  if (p.has(['endPort']) && endPort === undefined) ok = false;
  if (!ok || !protocol) return undefined;
  return {
    protocol,
    ...(num !== undefined ? { port: num } : {}),
    ...(endPort !== undefined ? { endPort } : {}),
  };
}

function rules(f: Fields, dir: 'ingress' | 'egress'): NetworkPolicyRule[] {
  const peersKey = dir === 'ingress' ? 'from' : 'to';
  const out: NetworkPolicyRule[] = [];
  (f.array(['spec', dir]) ?? []).forEach((_, i) => {
    const base: FieldPath = ['spec', dir, i];
    const r = f.at(base);
    if (f.get(base) !== null && f.object(base) === undefined) return;
    const ports: NetworkPolicyPort[] = [];
    (r.array(['ports']) ?? []).forEach((_, j) => {
      const p = port(r, ['ports', j]);
      if (p) ports.push(p);
    });
    const peers: NetworkPolicyPeer[] = [];
    (r.array([peersKey]) ?? []).forEach((_, j) => {
      const p = peer(r, [peersKey, j]);
      if (p) peers.push(p);
    });
    const pos = f.origin?.locate([...f.base, ...base]);
    out.push({ peers, ports, ...(pos ? { origin: `${pos.file}:${pos.line}` } : {}) });
  });
  return out;
}

export function decodeNetworkPolicy(f: Fields, meta: Meta): NetworkPolicy {
  if (!f.has(['spec'])) f.error(['spec'], 'required: spec (at least spec.podSelector: {})');
  const podSelector = selector(f, ['spec', 'podSelector']);
  if (f.has(['spec']) && !f.has(['spec', 'podSelector']))
    f.warning(
      ['spec', 'podSelector'],
      'absent: the empty selector selects every pod in the namespace (write podSelector: {} to say so)',
    );
  const ingress = rules(f, 'ingress');
  const egress = rules(f, 'egress');
  const given = f.array(['spec', 'policyTypes']);
  let policyTypes: PolicyType[];
  if (given && given.length > 0) {
    policyTypes = [];
    if (given.length > 2) {
      f.error(['spec', 'policyTypes'], 'Invalid value: may not specify more than two policyTypes');
    } else {
      given.forEach((_, i) => {
        const t = f.oneOf(['spec', 'policyTypes', i], POLICY_TYPES);
        if (t && !policyTypes.includes(t)) policyTypes.push(t);
      });
    }
  } else {
    // SetDefaults_NetworkPolicy: Ingress always; Egress only when egress rules are written.
    const egressLen = (f.array(['spec', 'egress']) ?? []).length;
    policyTypes = egressLen > 0 ? ['Ingress', 'Egress'] : ['Ingress'];
  }
  return { kind: 'NetworkPolicy', meta, podSelector, policyTypes, ingress, egress, raw: f.body };
}

/** The label the apiserver sets on every namespace (NamespaceDefaultLabelName), which selectors rely on. */
export const NAMESPACE_NAME_LABEL = 'kubernetes.io/metadata.name';

/** A namespace's metadata with the apiserver's `kubernetes.io/metadata.name` label (it always wins). */
export function withNamespaceNameLabel(meta: Meta): Meta {
  const all: Record<string, string> = { ...meta.labels, [NAMESPACE_NAME_LABEL]: meta.name };
  // In key order, as the apiserver's JSON (a Go map) has them.
  const labels = Object.fromEntries(
    Object.keys(all)
      .sort()
      .map((k) => [k, all[k]!]),
  );
  return { ...meta, labels };
}
