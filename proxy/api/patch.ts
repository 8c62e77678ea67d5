/**
 * The patch types kubectl sends, applied to the object as the API serves it:
 *   application/merge-patch+json            RFC 7386 (kubectl patch --type merge)
 *   application/json-patch+json             RFC 6902 (kubectl patch --type json)
 *   application/strategic-merge-patch+json  apimachinery's strategicpatch for built-in kinds (kubectl
 *       apply, label, annotate, patch): lists with a patch merge key are merged by that key, with the
 *       $patch, $setElementOrder, $retainKeys and $deleteFromPrimitiveList directives
 *   application/apply-patch+yaml            server-side apply (apply.ts)
 * Patch merge keys are the ones the Kubernetes API types declare, looked up by field name.
 */
import { isPlainObject } from '../../netmodel/cluster/index.js';
import { errors } from './status.js';

export type Json = null | boolean | number | string | Json[] | { [k: string]: Json };
type JObj = { [k: string]: Json };

const isObj = (v: unknown): v is JObj => isPlainObject(v);

/** RFC 7386. */
export function mergePatch(target: Json, patch: Json): Json {
  if (!isObj(patch)) return structuredClone(patch);
  const out: JObj = isObj(target) ? { ...target } : {};
  for (const [k, v] of Object.entries(patch)) {
    if (v === null) delete out[k];
    else out[k] = mergePatch(out[k] ?? null, v);
  }
  return out;
}

function unescapeToken(t: string): string {
  return t.replace(/~1/g, '/').replace(/~0/g, '~');
}

function pointer(path: unknown): string[] {
  if (typeof path !== 'string' || (path !== '' && !path.startsWith('/')))
    throw errors.badRequest(`the JSON patch path ${JSON.stringify(path)} is not a JSON pointer`);
  return path === '' ? [] : path.slice(1).split('/').map(unescapeToken);
}

function getAt(doc: Json, toks: readonly string[]): Json | undefined {
  let cur: Json | undefined = doc;
  for (const t of toks) {
    if (Array.isArray(cur)) cur = cur[Number(t)];
    else if (isObj(cur)) cur = Object.hasOwn(cur, t) ? cur[t] : undefined;
    else return undefined;
    if (cur === undefined) return undefined;
  }
  return cur;
}

function parentOf(doc: Json, toks: readonly string[], op: string): { parent: Json; last: string } {
  if (toks.length === 0) throw errors.badRequest(`JSON patch ${op}: the root cannot be the target`);
  const parent = getAt(doc, toks.slice(0, -1));
  if (parent === undefined || (parent !== null && typeof parent !== 'object'))
    throw errors.unprocessable(`doc is missing path: "/${toks.join('/')}": missing value`);
  return { parent, last: toks[toks.length - 1]! };
}

function addAt(doc: Json, toks: readonly string[], value: Json, op: string): Json {
  if (toks.length === 0) return value;
  const { parent, last } = parentOf(doc, toks, op);
  if (Array.isArray(parent)) {
    const i = last === '-' ? parent.length : Number(last);
    if (!Number.isInteger(i) || i < 0 || i > parent.length)
      throw errors.unprocessable(`add operation does not apply: index ${last} out of bounds`);
    parent.splice(i, 0, value);
  } else (parent as JObj)[last] = value;
  return doc;
}

function removeAt(doc: Json, toks: readonly string[], op: string): Json {
  const { parent, last } = parentOf(doc, toks, op);
  if (Array.isArray(parent)) {
    const i = Number(last);
    if (!Number.isInteger(i) || i < 0 || i >= parent.length)
      throw errors.unprocessable(`${op} operation does not apply: doc is missing path: "/${toks.join('/')}"`);
    parent.splice(i, 1);
  } else {
    if (!Object.hasOwn(parent as JObj, last))
      throw errors.unprocessable(
        `${op} operation does not apply: doc is missing path: "/${toks.join('/')}": missing value`,
      );
    delete (parent as JObj)[last];
  }
  return doc;
}

/** RFC 6902. */
export function jsonPatch(target: Json, ops: Json): Json {
  if (!Array.isArray(ops)) throw errors.badRequest('a JSON patch must be an array of operations');
  let doc = structuredClone(target);
  for (const raw of ops) {
    if (!isObj(raw)) throw errors.badRequest('a JSON patch operation must be an object');
    const op = raw.op;
    const toks = pointer(raw.path);
    switch (op) {
      case 'add':
        doc = addAt(doc, toks, structuredClone(raw.value ?? null), op);
        break;
      case 'remove':
        doc = removeAt(doc, toks, op);
        break;
      case 'replace':
        doc = removeAt(doc, toks, op);
        doc = addAt(doc, toks, structuredClone(raw.value ?? null), op);
        break;
      case 'move':
      case 'copy': {
        const from = pointer(raw.from);
        const v = getAt(doc, from);
        if (v === undefined)
          throw errors.unprocessable(
            `${op} operation does not apply: doc is missing from path: "${raw.from}"`,
          );
        if (op === 'move') doc = removeAt(doc, from, op);
        doc = addAt(doc, toks, structuredClone(v), op);
        break;
      }
      case 'test': {
        const v = getAt(doc, toks);
        if (JSON.stringify(v) !== JSON.stringify(raw.value))
          throw errors.unprocessable(`testing value ${raw.path} failed`);
        break;
      }
      default:
        throw errors.badRequest(`Unexpected kind: ${String(op)}`);
    }
  }
  return doc;
}

/** The patch merge key of a list field of the built-in types, by field name. */
export function mergeKeyOf(field: string, sample: readonly Json[]): string | undefined {
  switch (field) {
    case 'containers':
    case 'initContainers':
    case 'ephemeralContainers':
    case 'env':
    case 'volumes':
    case 'imagePullSecrets':
    case 'resourceClaims':
      return 'name';
    case 'volumeMounts':
      return 'mountPath';
    case 'volumeDevices':
      return 'devicePath';
    case 'hostAliases':
      return 'ip';
    case 'ownerReferences':
      return 'uid';
    case 'conditions':
      return 'type';
    case 'topologySpreadConstraints':
      return 'topologyKey';
    case 'ports':
      return sample.some((x) => isObj(x) && 'containerPort' in x) ? 'containerPort' : 'port';
    default:
      return undefined;
  }
}

const PRIMITIVE_MERGE = new Set(['finalizers']);

function keyOf(item: Json, key: string): string | undefined {
  return isObj(item) && item[key] !== undefined ? JSON.stringify(item[key]) : undefined;
}

function mergeList(field: string, orig: Json[], patch: Json[], order: Json[] | undefined): Json[] {
  const key = mergeKeyOf(field, [...patch, ...orig]);
  if (!key) {
    if (PRIMITIVE_MERGE.has(field)) {
      const out = [...orig];
      for (const v of patch) if (!out.some((o) => JSON.stringify(o) === JSON.stringify(v))) out.push(v);
      return out;
    }
    return patch.filter((x) => !(isObj(x) && x.$patch !== undefined)).map((x) => strip(x));
  }
  if (patch.some((x) => isObj(x) && x.$patch === 'replace')) {
    return patch.filter((x) => !(isObj(x) && x.$patch === 'replace')).map((x) => strip(x));
  }
  let out = [...orig];
  for (const p of patch) {
    const k = keyOf(p, key);
    const i = k === undefined ? -1 : out.findIndex((o) => keyOf(o, key) === k);
    if (isObj(p) && p.$patch === 'delete') {
      if (i >= 0) out.splice(i, 1);
      continue;
    }
    if (i >= 0) out[i] = strategicMerge(out[i]!, p);
    else out.push(strip(p));
  }
  if (order) {
    const pos = new Map(order.map((o, idx) => [keyOf(o, key), idx]));
    const ranked = out.map((o, idx) => ({ o, idx, r: pos.get(keyOf(o, key)) }));
    ranked.sort((a, b) => {
      if (a.r !== undefined && b.r !== undefined) return a.r - b.r;
      if (a.r !== undefined) return -1;
      if (b.r !== undefined) return 1;
      return a.idx - b.idx;
    });
    out = ranked.map((x) => x.o);
  }
  return out;
}

/** Drop patch directives from a value that is added as a whole. */
function strip(v: Json): Json {
  if (Array.isArray(v)) return v.map(strip);
  if (!isObj(v)) return v;
  const out: JObj = {};
  for (const [k, x] of Object.entries(v)) {
    if (
      k === '$patch' ||
      k === '$retainKeys' ||
      k.startsWith('$setElementOrder/') ||
      k.startsWith('$deleteFromPrimitiveList/')
    )
      continue;
    if (x === null) continue;
    out[k] = strip(x);
  }
  return out;
}

/** apimachinery's StrategicMergePatch on JSON values. */
export function strategicMerge(orig: Json, patch: Json): Json {
  if (!isObj(patch)) return structuredClone(patch);
  if (patch.$patch === 'replace') return strip(patch);
  if (patch.$patch === 'delete') return null;
  const out: JObj = isObj(orig) ? { ...orig } : {};
  const retain = patch.$retainKeys;
  for (const [k, v] of Object.entries(patch)) {
    if (k === '$patch' || k === '$retainKeys' || k.startsWith('$setElementOrder/')) continue;
    if (k.startsWith('$deleteFromPrimitiveList/')) {
      const f = k.slice('$deleteFromPrimitiveList/'.length);
      const drop = new Set((Array.isArray(v) ? v : []).map((x) => JSON.stringify(x)));
      if (Array.isArray(out[f])) out[f] = (out[f] as Json[]).filter((x) => !drop.has(JSON.stringify(x)));
      continue;
    }
    if (v === null) {
      delete out[k];
      continue;
    }
    const cur = out[k];
    if (Array.isArray(v)) {
      const order = patch[`$setElementOrder/${k}`];
      out[k] = mergeList(k, Array.isArray(cur) ? cur : [], v, Array.isArray(order) ? order : undefined);
    } else if (isObj(v)) {
      const m = strategicMerge(isObj(cur) ? cur : {}, v);
      if (m === null) delete out[k];
      else out[k] = m;
    } else out[k] = v;
  }
  for (const [k, order] of Object.entries(patch)) {
    if (!k.startsWith('$setElementOrder/')) continue;
    const f = k.slice('$setElementOrder/'.length);
    if (Object.hasOwn(patch, f) || !Array.isArray(out[f]) || !Array.isArray(order)) continue;
    out[f] = mergeList(f, out[f] as Json[], [], order);
  }
  if (Array.isArray(retain)) {
    const keepKeys = new Set(retain.map(String));
    for (const k of Object.keys(out)) if (!keepKeys.has(k)) delete out[k];
  }
  return out;
}
