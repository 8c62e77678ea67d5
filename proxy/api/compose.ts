/**
 * The cluster the API serves: the manifest files' objects with the API's state laid over them
 * (state.ts), built by the same pipeline as files alone (netmodel/cluster buildClusterFromObjects).
 * Objects kpath stores but does not model (ConfigMaps) are kept aside and served as they are.
 */
import {
  type BuildOptions,
  type BuildResult,
  buildClusterFromObjects,
  DELETED_PODS_ANNOTATION,
  type Diagnostic,
  isPlainObject,
  type ManifestSource,
  type Origin,
  parseManifests,
  type RawObject,
} from '../../netmodel/cluster/index.js';
import { type Obj, objKey } from './render.js';
import { resourceForKind, resourceId } from './resources.js';
import { fileFingerprint, type StateData } from './state.js';

export interface Composed {
  readonly result: BuildResult;
  /** resource id -> key -> object, for resources kpath stores without modelling. */
  readonly stored: Map<string, Map<string, Obj>>;
  /** The manifest files' objects by `resourceId/key` (what an API entry shadows). */
  readonly fileObjects: ReadonlyMap<string, Obj>;
  /** API entries whose manifest object changed since: the manifest won, drop them. */
  readonly stale: readonly string[];
}

/** `resourceId/key` of a raw object, or undefined for kinds the API does not serve (Cluster, ...). */
export function identityOf(body: Obj): { id: string; resource: string; key: string } | undefined {
  if (typeof body.apiVersion !== 'string' || typeof body.kind !== 'string') return undefined;
  const r = resourceForKind(body.apiVersion, body.kind);
  if (!r) return undefined;
  const meta = isPlainObject(body.metadata) ? body.metadata : {};
  const name = typeof meta.name === 'string' ? meta.name : '';
  const ns = r.namespaced
    ? typeof meta.namespace === 'string' && meta.namespace
      ? meta.namespace
      : 'default'
    : '';
  const key = objKey(ns, name);
  return { id: `${resourceId(r)}/${key}`, resource: resourceId(r), key };
}

function apiOrigin(id: string): Origin {
  const file = `<api:${id}>`;
  return { file, locate: () => ({ file, line: 1, col: 1 }) };
}

export interface Parsed {
  readonly raws: readonly RawObject[];
  readonly diagnostics: readonly Diagnostic[];
}

/** Parse the manifests once; every write composes from the same parse until the files change. */
export function parseSources(sources: readonly ManifestSource[]): Parsed {
  const diagnostics: Diagnostic[] = [];
  const raws = parseManifests(sources, diagnostics);
  return { raws, diagnostics };
}

/** `opts`: the build's version, the snapshot it replaces (stable placements), `-n`. */
export function compose(parsed: Parsed, state: StateData, opts: BuildOptions): Composed {
  const diags: Diagnostic[] = [...parsed.diagnostics];
  const raws = parsed.raws;
  const fileObjects = new Map<string, Obj>();
  for (const r of raws) {
    const ident = identityOf(r.body);
    if (ident && !fileObjects.has(ident.id)) fileObjects.set(ident.id, r.body);
  }
  const stale: string[] = [];
  const live = new Map<string, Obj | null>();
  for (const [id, e] of Object.entries(state.objects)) {
    if (fileFingerprint(fileObjects.get(id)) !== e.fileFp) {
      stale.push(id);
      continue;
    }
    live.set(id, e.body ?? null);
  }
  const out: RawObject[] = [];
  const stored = new Map<string, Map<string, Obj>>();
  const keep = (id: string, resource: string, key: string, body: Obj, origin: Origin) => {
    const r = resource;
    if (r === 'configmaps') {
      const m = stored.get(r) ?? new Map<string, Obj>();
      stored.set(r, m);
      m.set(key, body);
      return;
    }
    const deleted = state.deletedPods[id];
    if (deleted?.length) {
      const meta = { ...(body.metadata as Obj) };
      meta.annotations = {
        ...((meta.annotations as Obj | undefined) ?? {}),
        [DELETED_PODS_ANNOTATION]: deleted.join(','),
      };
      body = { ...body, metadata: meta };
    }
    out.push({ body, origin });
  };
  for (const r of raws) {
    const ident = identityOf(r.body);
    if (!ident) {
      out.push(r);
      continue;
    }
    if (live.has(ident.id)) continue; // shadowed by the API's version (or deleted)
    keep(ident.id, ident.resource, ident.key, r.body, r.origin);
  }
  for (const [id, body] of live) {
    if (!body) continue;
    const ident = identityOf(body);
    if (!ident) continue;
    keep(id, ident.resource, ident.key, body, apiOrigin(id));
  }
  const result = buildClusterFromObjects(out, opts, diags);
  return { result, stored, fileObjects, stale };
}
