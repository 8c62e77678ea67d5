/** metadata: name, namespace, labels, annotations, as the apiserver validates them. */
import type { Fields } from './fields.js';
import { uidFor } from './hash.js';
import { dns1035Label, dns1123Label, dns1123Subdomain, labelValue, qualifiedName } from './names.js';
import type { Meta } from './objects.js';

export type NameRule = 'subdomain' | 'label' | 'dns1035';

export function checkName(rule: NameRule, v: string): string | undefined {
  return rule === 'subdomain' ? dns1123Subdomain(v) : rule === 'label' ? dns1123Label(v) : dns1035Label(v);
}

export function decodeMeta(
  f: Fields,
  kind: string,
  opts: { namespaced: boolean; nameRule: NameRule; defaultNamespace?: string },
): Meta {
  const m = f.at(['metadata']);
  if (!f.has(['metadata'])) f.error(['metadata'], 'required: every object needs metadata.name');
  const name = m.str(['name']) ?? '';
  if (name === '') {
    if (f.has(['metadata']))
      m.error(['name'], 'required: a name (generateName is not supported; give the name)');
  } else {
    const e = checkName(opts.nameRule, name);
    if (e) m.error(['name'], `invalid name "${name}": ${e}`);
  }
  let namespace = '';
  if (opts.namespaced) {
    namespace = m.str(['namespace']) || (opts.defaultNamespace ?? 'default');
    const e = dns1123Label(namespace);
    if (e) m.error(['namespace'], `invalid namespace "${namespace}": ${e}`);
  } else if (m.has(['namespace'])) {
    m.warning(['namespace'], `${kind} is cluster-scoped; metadata.namespace is ignored`);
  }
  const labels = m.strMap(['labels']) ?? {};
  for (const [k, v] of Object.entries(labels)) {
    const ek = qualifiedName(k);
    if (ek) m.error(['labels', k], `invalid label key "${k}": ${ek}`);
    const ev = labelValue(v);
    if (ev) m.error(['labels', k], `invalid label value "${v}": ${ev}`);
  }
  const annotations = m.strMap(['annotations']) ?? {};
  const deletionTimestamp = m.str(['deletionTimestamp']);
  const creationTimestamp = m.str(['creationTimestamp']);
  const uid = m.str(['uid']) ?? uidFor(`${kind}/${namespace}/${name}`);
  return {
    name,
    namespace,
    labels,
    annotations,
    uid,
    ...(f.origin ? { origin: f.origin } : {}),
    ...(deletionTimestamp !== undefined ? { deletionTimestamp } : {}),
    ...(creationTimestamp !== undefined ? { creationTimestamp } : {}),
  };
}
