/**
 * Server-side apply (`kubectl apply --server-side`, PATCH application/apply-patch+yaml), reduced to
 * what one field manager sees: the fields a manager applied are recorded in metadata.managedFields
 * (FieldsV1: `f:<field>` for a map key, `k:{"name":"x"}` for a list item by its merge key); a new
 * apply merges its fields into the live object and removes the ones that manager applied before and
 * no longer does. Conflicts between managers are not detected: the last apply wins (see README).
 */
import { isPlainObject } from '../../netmodel/cluster/index.js';
import { type Json, mergeKeyOf, strategicMerge } from './patch.js';

type JObj = { [k: string]: Json };
const isObj = (v: unknown): v is JObj => isPlainObject(v);

const UNTRACKED_TOP = new Set(['apiVersion', 'kind']);
const UNTRACKED_META = new Set([
  'name',
  'namespace',
  'resourceVersion',
  'managedFields',
  'uid',
  'creationTimestamp',
  'generation',
]);

/** The FieldsV1 set of an applied object. */
export function fieldSet(v: Json, field = '', depth = 0): JObj {
  const out: JObj = {};
  if (isObj(v)) {
    for (const [k, x] of Object.entries(v)) {
      if (depth === 0 && UNTRACKED_TOP.has(k)) continue;
      if (depth === 1 && field === 'metadata' && UNTRACKED_META.has(k)) continue;
      out[`f:${k}`] = childSet(x, k, depth + 1);
    }
  }
  return out;
}

function childSet(x: Json, k: string, depth: number): JObj {
  if (isObj(x)) return fieldSet(x, k, depth);
  if (Array.isArray(x)) {
    const key = mergeKeyOf(k, x);
    if (!key || !x.every((i) => isObj(i) && i[key] !== undefined)) return {};
    const out: JObj = {};
    for (const item of x as JObj[])
      out[`k:${JSON.stringify({ [key]: item[key] })}`] = { '.': {}, ...fieldSet(item, k, depth + 1) };
    return out;
  }
  return {};
}

function removeMissing(live: Json, oldSet: JObj, newSet: JObj): Json {
  if (Array.isArray(live)) {
    let list = [...live];
    for (const [tok, sub] of Object.entries(oldSet)) {
      if (!tok.startsWith('k:')) continue;
      const want = JSON.parse(tok.slice(2)) as JObj;
      const [[mk, mv]] = Object.entries(want) as [[string, Json]];
      const i = list.findIndex((it) => isObj(it) && JSON.stringify(it[mk]) === JSON.stringify(mv));
      if (i < 0) continue;
      if (!(tok in newSet)) list = list.filter((_, j) => j !== i);
      else list[i] = removeMissing(list[i]!, sub as JObj, newSet[tok] as JObj);
    }
    return list;
  }
  if (!isObj(live)) return live;
  const out: JObj = { ...live };
  for (const [tok, sub] of Object.entries(oldSet)) {
    if (!tok.startsWith('f:')) continue;
    const f = tok.slice(2);
    if (!(tok in newSet)) delete out[f];
    else if (out[f] !== undefined) out[f] = removeMissing(out[f]!, sub as JObj, newSet[tok] as JObj);
  }
  return out;
}

export interface ManagedEntry {
  manager: string;
  operation: 'Apply' | 'Update';
  apiVersion: string;
  time: string;
  fieldsType: 'FieldsV1';
  fieldsV1: JObj;
}

/** The object after `manager` applies `applied` to `live` (undefined: a create). */
export function serverSideApply(live: JObj | undefined, applied: JObj, manager: string, now: string): JObj {
  const newSet = fieldSet(applied);
  const liveMeta = isObj(live?.metadata) ? (live.metadata as JObj) : {};
  const managed = (Array.isArray(liveMeta.managedFields) ? liveMeta.managedFields : []).filter(
    isObj,
  ) as unknown as ManagedEntry[];
  const mine = managed.find((m) => m.manager === manager && m.operation === 'Apply');
  let base: Json = live ? structuredClone(live) : {};
  if (mine && live) base = removeMissing(base, mine.fieldsV1, newSet);
  const merged = strategicMerge(base, applied) as JObj;
  const entry: ManagedEntry = {
    manager,
    operation: 'Apply',
    apiVersion: String(applied.apiVersion ?? ''),
    time: now,
    fieldsType: 'FieldsV1',
    fieldsV1: newSet,
  };
  const meta = isObj(merged.metadata) ? { ...(merged.metadata as JObj) } : {};
  meta.managedFields = [...managed.filter((m) => m !== mine), entry] as unknown as Json;
  merged.metadata = meta;
  return merged;
}
