/**
 * Unknown fields, for fieldValidation=Strict (400 `strict decoding error: unknown field "spec.foo"`),
 * Warn (a Warning header) and Ignore; with Warn and Ignore the apiserver drops them before storing.
 * The schemas are the cluster model's (netmodel/cluster/schema.ts, the same ones manifest files are
 * decoded against); kinds without one (NetworkPolicy, checked by its own decoder; ConfigMap) accept
 * every field.
 */
import { KIND_SCHEMAS, pruneUnknownFields, unknownFieldPaths } from '../../netmodel/cluster/index.js';
import type { ResourceInfo } from './resources.js';

/** Field paths of `obj` that its kind does not have, in kubectl's notation (`spec.template.spec.containers[0].foo`). */
export function checkUnknownFields(r: ResourceInfo, obj: unknown): string[] {
  const schema = KIND_SCHEMAS[r.kind];
  return schema ? unknownFieldPaths(schema, obj) : [];
}

/** `obj` without the fields its kind does not have. */
export function pruneUnknown<T>(r: ResourceInfo, obj: T): T {
  const schema = KIND_SCHEMAS[r.kind];
  return schema ? pruneUnknownFields(schema, obj) : obj;
}
