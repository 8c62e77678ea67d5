/**
 * The verbs on one resource path, as the apiserver's REST handlers answer them:
 *   GET name | list | watch     POST create     PUT update     PATCH (merge, json, strategic, apply)
 *   DELETE name | collection    GET/PUT/PATCH name/scale (autoscaling/v1 Scale)
 * Each returns the HTTP status and body; errors are thrown as ApiError (status.ts).
 */
import { parse as parseYaml } from 'yaml';
import { isPlainObject, SAFE_ALPHABET } from '../../netmodel/cluster/index.js';
import { serverSideApply } from './apply.js';
import type { Entry } from './cache.js';
import { checkUnknownFields, pruneUnknown } from './fieldcheck.js';
import { type Json, jsonPatch, mergePatch, strategicMerge } from './patch.js';
import { bodyType, decodeProtobufBody, isProtobuf, PROTOBUF } from './protobuf/index.js';
import { type Obj, objKey } from './render.js';
import { apiVersionOf, RESOURCES, type ResourceInfo, resourceId } from './resources.js';
import {
  type FieldRequirement,
  type LabelRequirement,
  matchesFields,
  matchesLabels,
  parseFieldSelector,
  parseLabelSelector,
} from './selectors.js';
import { errors } from './status.js';
import type { ApiStore, Change, Target } from './store.js';

export interface Call {
  readonly resource: ResourceInfo;
  readonly namespace: string;
  readonly name: string;
  readonly subresource: string;
  readonly query: URLSearchParams;
  readonly contentType: string;
  readonly body: Buffer | undefined;
}

export interface Reply {
  readonly code: number;
  readonly body: Obj;
  readonly warnings?: readonly string[];
}

const meta = (o: Obj): Obj => (isPlainObject(o.metadata) ? o.metadata : {});

function target(c: Call, name = c.name): Target {
  return { resource: c.resource, namespace: c.resource.namespaced ? c.namespace : '', name };
}

function statusTarget(c: Call, name = c.name) {
  return { group: c.resource.group, resource: c.resource.name, kind: c.resource.kind, name };
}

function decodeBody(c: Call, yamlOk: boolean): Json {
  if (!c.body || c.body.length === 0) throw errors.badRequest('the request body is empty');
  const text = c.body.toString('utf8');
  try {
    return (yamlOk ? parseYaml(text) : JSON.parse(text)) as Json;
  } catch (e) {
    const what = (e as Error).message.split('\n')[0];
    throw errors.badRequest(`the request body is not valid ${yamlOk ? 'YAML' : 'JSON'}: ${what}`);
  }
}

/** What a scale subresource's PUT body is. */
const SCALE = { group: 'autoscaling', version: 'v1', kind: 'Scale' } as const;

/**
 * The object a create or update sends: JSON, YAML, or protobuf (kubectl's typed clients: `kubectl
 * create deployment|service|namespace|configmap`), decoded to the same JSON object. `kind` is what
 * the URL expects when it is not the resource's own (Scale for the scale subresource).
 */
function objectBody(c: Call, kind?: { group: string; kind: string }): Obj {
  const ct = c.contentType;
  if (isProtobuf(ct))
    return decodeProtobufBody(c.body ?? Buffer.alloc(0), {
      group: kind?.group ?? c.resource.group,
      version: c.resource.version,
      kind: kind?.kind ?? c.resource.kind,
    });
  if (ct !== 'application/json' && ct !== 'application/yaml' && ct !== '')
    throw errors.unsupportedMediaType(ct, ['application/json', 'application/yaml', PROTOBUF]);
  const v = decodeBody(c, ct === 'application/yaml');
  if (!isPlainObject(v)) throw errors.badRequest('the request body must be a JSON object');
  return v as Obj;
}

/**
 * Unknown fields under fieldValidation. A protobuf body cannot have any (the decoder keeps only the
 * fields of the kind's struct; the apiserver reports none for it): fields the cluster model does not
 * declare are still pruned before storing, without a warning or error.
 */
function strictCheck(c: Call, obj: Obj): void {
  if (isProtobuf(c.contentType)) return;
  const mode = c.query.get('fieldValidation') ?? 'Warn';
  if (mode !== 'Strict') return;
  const unknown = checkUnknownFields(c.resource, obj);
  if (unknown.length) {
    throw errors.badRequest(
      `strict decoding error: ${unknown.map((f) => `unknown field "${f}"`).join(', ')}`,
    );
  }
}

function fieldWarnings(c: Call, obj: Obj): string[] {
  if (isProtobuf(c.contentType)) return [];
  const mode = c.query.get('fieldValidation') ?? 'Warn';
  if (mode !== 'Warn') return [];
  return checkUnknownFields(c.resource, obj).map((f) => `unknown field "${f}"`);
}

/** Check kind/apiVersion/name/namespace of a body against the request. */
function checkIdentity(c: Call, obj: Obj, name: string): void {
  const av = apiVersionOf(c.resource);
  // The apiserver judges a JSON body's type as a protobuf one's (bodyType).
  if (obj.apiVersion !== undefined || obj.kind !== undefined)
    bodyType(c.resource, String(obj.apiVersion ?? ''), String(obj.kind ?? ''));
  obj.apiVersion = av;
  obj.kind = c.resource.kind;
  const m = meta(obj);
  if (c.resource.namespaced) {
    if (m.namespace !== undefined && m.namespace !== '' && m.namespace !== c.namespace)
      throw errors.badRequest(
        'the namespace of the provided object does not match the namespace sent on the request',
      );
  }
  if (name && m.name !== undefined && m.name !== name)
    throw errors.badRequest(
      `the name of the object (${String(m.name)}) does not match the name on the URL (${name})`,
    );
}

/** What is stored: the object without what the server keeps itself. */
function toStored(c: Call, obj: Obj, prev: Obj | undefined, now: string, uid: string): Obj {
  const m: Obj = { ...meta(obj) };
  delete m.resourceVersion;
  delete m.generation;
  delete m.selfLink;
  if (c.resource.namespaced) m.namespace = c.namespace;
  else delete m.namespace;
  const pm = prev ? meta(prev) : {};
  m.uid = pm.uid ?? uid;
  m.creationTimestamp = pm.creationTimestamp ?? now;
  const out: Obj = { ...obj, metadata: m };
  if (c.resource.kind !== 'Node') delete out.status;
  return out;
}

/** The apiserver refuses to delete these (its NamespaceLifecycle admission). */
const PROTECTED_NAMESPACES = ['default', 'kube-system', 'kube-public'];

const NAME_RE = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$/;

function checkStoredName(c: Call, name: string): void {
  if (c.resource.model !== 'stored') return;
  if (name.length > 253 || !NAME_RE.test(name)) {
    throw errors.invalid(statusTarget(c, name), [
      {
        field: 'metadata.name',
        message: `Invalid value: "${name}": a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, '-' or '.', and must start and end with an alphanumeric character`,
      },
    ]);
  }
}

function refuseDerived(c: Call, e: Entry, verb: string): void {
  if (!e.derived) return;
  const owner = e.owner ? e.owner.replace(/^(?:[^/]+\/)?([^/]+)\/(.*)$/, '$1 $2') : 'another object';
  throw errors.forbidden(
    statusTarget(c),
    verb,
    `kpath derives this object from ${owner}; change or delete that instead`,
  );
}

function randomName(prefix: string): string {
  let s = '';
  for (let i = 0; i < 5; i++) s += SAFE_ALPHABET[Math.floor(Math.random() * SAFE_ALPHABET.length)];
  return `${prefix}${s}`;
}

function dryRun(c: Call): boolean {
  return c.query.getAll('dryRun').includes('All');
}

function result(c: Call, r: Entry | Obj | undefined, name: string): Obj {
  if (!r) throw errors.internal(`${c.resource.name} "${name}" vanished after the write`);
  return 'rv' in r && 'obj' in r ? (r as Entry).obj : (r as Obj);
}

// ---- reads ----

export interface ListFilter {
  readonly namespace: string;
  readonly labels: readonly LabelRequirement[];
  readonly fields: readonly FieldRequirement[];
}

export function listFilter(c: Call): ListFilter {
  return {
    namespace: c.resource.namespaced ? c.namespace : '',
    labels: parseLabelSelector(c.query.get('labelSelector')),
    fields: parseFieldSelector(c.query.get('fieldSelector')),
  };
}

export function matches(f: ListFilter, obj: Obj): boolean {
  const m = meta(obj);
  if (f.namespace && m.namespace !== f.namespace) return false;
  const labels = (isPlainObject(m.labels) ? m.labels : {}) as Record<string, string>;
  return matchesLabels(f.labels, labels) && matchesFields(f.fields, obj);
}

function compareKeys(a: Obj, b: Obj): number {
  const ka = `${meta(a).namespace ?? ''}/${meta(a).name ?? ''}`;
  const kb = `${meta(b).namespace ?? ''}/${meta(b).name ?? ''}`;
  return ka < kb ? -1 : ka > kb ? 1 : 0;
}

export function listObjects(store: ApiStore, c: Call): { items: Obj[]; rv: string; continue?: string } {
  const f = listFilter(c);
  const all = store.cache
    .list(resourceId(c.resource))
    .map((e) => e.obj)
    .filter((o) => matches(f, o))
    .sort(compareKeys);
  const rv = String(store.cache.resourceVersion);
  const limit = Number(c.query.get('limit') ?? 0);
  const start =
    Number(c.query.get('continue') ? Buffer.from(c.query.get('continue')!, 'base64url').toString() : 0) || 0;
  if (limit > 0 && Number.isInteger(limit)) {
    const page = all.slice(start, start + limit);
    const more = start + limit < all.length;
    return {
      items: page,
      rv,
      ...(more ? { continue: Buffer.from(String(start + limit)).toString('base64url') } : {}),
    };
  }
  return { items: start ? all.slice(start) : all, rv };
}

export function getObject(store: ApiStore, c: Call): Obj {
  const e = store.get(c.resource, objKey(target(c).namespace, c.name));
  if (!e) throw errors.notFound(statusTarget(c));
  return e.obj;
}

// ---- writes ----

export function create(store: ApiStore, c: Call): Promise<Reply> {
  const body = objectBody(c);
  strictCheck(c, body);
  const warnings = fieldWarnings(c, body);
  const obj = pruneUnknown(c.resource, body);
  checkIdentity(c, obj, '');
  const m = { ...meta(obj) };
  if (!m.name && typeof m.generateName === 'string' && m.generateName) m.name = randomName(m.generateName);
  const name = typeof m.name === 'string' ? m.name : '';
  if (!name) {
    throw errors.invalid(statusTarget(c, ''), [
      {
        reason: 'FieldValueRequired',
        field: 'metadata.name',
        message: 'Required value: name or generateName is required',
      },
    ]);
  }
  obj.metadata = m;
  checkStoredName(c, name);
  if (c.resource.model === 'derived' || c.resource.model === 'empty')
    throw errors.methodNotAllowed('create', c.resource.name);
  return store.serialize(() => {
    if (store.get(c.resource, objKey(target(c).namespace, name)))
      throw errors.alreadyExists(statusTarget(c, name));
    const body = toStored(c, obj, undefined, store.now(), store.newUid());
    const r = store.commit(target(c, name), [{ t: target(c, name), change: { kind: 'put', body } }], {
      dryRun: dryRun(c),
    });
    return {
      code: 201,
      body: result(c, r, name),
      warnings: [...warnings, ...store.warningsFor(target(c, name))],
    };
  });
}

function preconditionRv(c: Call, obj: Obj, cur: Entry): void {
  const rv = meta(obj).resourceVersion;
  if (rv !== undefined && rv !== '' && String(rv) !== String(cur.rv)) {
    throw errors.conflict(
      statusTarget(c),
      'the object has been modified; please apply your changes to the latest version and try again',
    );
  }
}

export function update(store: ApiStore, c: Call): Promise<Reply> {
  const body = objectBody(c);
  strictCheck(c, body);
  const warnings = fieldWarnings(c, body);
  const obj = pruneUnknown(c.resource, body);
  checkIdentity(c, obj, c.name);
  return store.serialize(() => {
    const cur = store.get(c.resource, objKey(target(c).namespace, c.name));
    if (!cur) throw errors.notFound(statusTarget(c));
    refuseDerived(c, cur, 'update');
    preconditionRv(c, obj, cur);
    const body = toStored(c, obj, cur.obj, store.now(), store.newUid());
    const r = store.commit(target(c), [{ t: target(c), change: { kind: 'put', body } }], {
      dryRun: dryRun(c),
    });
    return { code: 200, body: result(c, r, c.name), warnings };
  });
}

const PATCH_TYPES = [
  'application/json-patch+json',
  'application/merge-patch+json',
  'application/strategic-merge-patch+json',
  'application/apply-patch+yaml',
];

function applyPatch(c: Call, base: Obj, now: string): Obj {
  const ct = c.contentType;
  if (!PATCH_TYPES.includes(ct)) throw errors.unsupportedMediaType(ct, PATCH_TYPES);
  const patch = decodeBody(c, ct === 'application/apply-patch+yaml');
  let out: Json;
  switch (ct) {
    case 'application/json-patch+json':
      out = jsonPatch(base as Json, patch);
      break;
    case 'application/merge-patch+json':
      if (!isPlainObject(patch)) throw errors.badRequest('a merge patch must be a JSON object');
      out = mergePatch(base as Json, patch);
      break;
    case 'application/strategic-merge-patch+json':
      if (!isPlainObject(patch)) throw errors.badRequest('a strategic merge patch must be a JSON object');
      out = strategicMerge(base as Json, patch);
      break;
    default: {
      if (!isPlainObject(patch)) throw errors.badRequest('an apply patch must be an object');
      const manager = c.query.get('fieldManager');
      if (!manager)
        throw errors.badRequest(
          'PATCH with application/apply-patch+yaml requires the fieldManager parameter',
        );
      strictCheck(c, patch as Obj);
      checkIdentity(c, { ...(patch as Obj) }, c.name);
      out = serverSideApply(
        isPlainObject(base) && Object.keys(base).length ? (base as never) : undefined,
        patch as never,
        manager,
        now,
      );
    }
  }
  if (!isPlainObject(out)) throw errors.badRequest('the patched object is not a JSON object');
  return out as Obj;
}

export function patch(store: ApiStore, c: Call): Promise<Reply> {
  return store.serialize(() => {
    const cur = store.get(c.resource, objKey(target(c).namespace, c.name));
    const isApply = c.contentType === 'application/apply-patch+yaml';
    if (!cur && !isApply) throw errors.notFound(statusTarget(c));
    if (cur) refuseDerived(c, cur, 'patch');
    if (!cur && (c.resource.model === 'derived' || c.resource.model === 'empty'))
      throw errors.methodNotAllowed('patch', c.resource.name);
    const base = cur ? structuredClone(cur.obj) : {};
    const patched = applyPatch(c, base, store.now());
    if (c.contentType !== 'application/apply-patch+yaml') strictCheck(c, patched);
    const out = pruneUnknown(c.resource, patched);
    if (cur) preconditionRv(c, out, cur);
    checkIdentity(c, out, c.name);
    const m = { ...meta(out) };
    if (m.name === undefined) m.name = c.name;
    if (cur && m.uid !== undefined && m.uid !== meta(cur.obj).uid)
      throw errors.conflict(
        statusTarget(c),
        `Precondition failed: UID in precondition: ${String(m.uid)}, UID in object meta: ${String(meta(cur.obj).uid)}`,
      );
    out.metadata = m;
    checkStoredName(c, c.name);
    const body = toStored(c, out, cur?.obj, store.now(), store.newUid());
    const r = store.commit(target(c), [{ t: target(c), change: { kind: 'put', body } }], {
      dryRun: dryRun(c),
    });
    return {
      code: cur ? 200 : 201,
      body: result(c, r, c.name),
      warnings: store.warningsFor(target(c)),
    };
  });
}

function successStatus(c: Call, e: Entry): Obj {
  return {
    kind: 'Status',
    apiVersion: 'v1',
    metadata: {},
    status: 'Success',
    details: {
      name: c.name,
      ...(c.resource.group ? { group: c.resource.group } : {}),
      kind: c.resource.name,
      uid: meta(e.obj).uid,
    },
  };
}

/** The changes that delete `e` (a namespace takes everything in it along). */
function deletion(store: ApiStore, c: Call, e: Entry): { t: Target; change: Change }[] {
  if (e.derived) {
    if (c.resource.name === 'pods' && e.owner) {
      return [{ t: target(c), change: { kind: 'deletePod', workload: e.owner, pod: c.name } }];
    }
    if (c.resource.name === 'namespaces') return namespaceContents(store, c.name);
    refuseDerived(c, e, 'delete');
  }
  if (c.resource.name === 'namespaces')
    return [...namespaceContents(store, c.name), { t: target(c), change: { kind: 'delete' } }];
  return [{ t: target(c), change: { kind: 'delete' } }];
}

function namespaceContents(store: ApiStore, ns: string): { t: Target; change: Change }[] {
  const out: { t: Target; change: Change }[] = [];
  for (const r of RESOURCES) {
    if (!r.namespaced || r.model === 'empty') continue;
    for (const e of store.cache.list(resourceId(r))) {
      const m = meta(e.obj);
      if (m.namespace !== ns || e.derived) continue;
      out.push({ t: { resource: r, namespace: ns, name: String(m.name) }, change: { kind: 'delete' } });
    }
  }
  return out;
}

export function remove(store: ApiStore, c: Call): Promise<Reply> {
  if (c.resource.model === 'derived' || c.resource.model === 'empty')
    throw errors.methodNotAllowed('delete', c.resource.name);
  let precondition: Obj = {};
  if (c.body?.length) {
    let opts: Obj;
    if (isProtobuf(c.contentType)) {
      opts = decodeProtobufBody(c.body, {
        group: c.resource.group,
        version: c.resource.version,
        kind: 'DeleteOptions',
      });
    } else {
      try {
        opts = JSON.parse(c.body.toString('utf8')) as Obj;
      } catch (e) {
        throw errors.badRequest(`the DeleteOptions body is not valid JSON: ${(e as Error).message}`);
      }
    }
    precondition = isPlainObject(opts.preconditions) ? opts.preconditions : {};
  }
  return store.serialize(() => {
    const cur = store.get(c.resource, objKey(target(c).namespace, c.name));
    if (!cur) throw errors.notFound(statusTarget(c));
    if (precondition.resourceVersion !== undefined && String(precondition.resourceVersion) !== String(cur.rv))
      throw errors.conflict(
        statusTarget(c),
        `Precondition failed: ResourceVersion in precondition: ${String(precondition.resourceVersion)}, ResourceVersion in object meta: ${cur.rv}`,
      );
    if (precondition.uid !== undefined && precondition.uid !== meta(cur.obj).uid)
      throw errors.conflict(
        statusTarget(c),
        `Precondition failed: UID in precondition: ${String(precondition.uid)}, UID in object meta: ${String(meta(cur.obj).uid)}`,
      );
    if (c.resource.name === 'namespaces' && PROTECTED_NAMESPACES.includes(c.name))
      throw errors.forbidden(statusTarget(c), '', 'this namespace may not be deleted');
    const changes = deletion(store, c, cur);
    store.commit(target(c), changes, { dryRun: dryRun(c) });
    return {
      code: 200,
      body: c.resource.name === 'pods' || c.resource.name === 'namespaces' ? cur.obj : successStatus(c, cur),
    };
  });
}

export function removeCollection(store: ApiStore, c: Call): Promise<Reply> {
  if (c.resource.model === 'derived' || c.resource.model === 'empty')
    throw errors.methodNotAllowed('deletecollection', c.resource.name);
  const f = listFilter(c);
  return store.serialize(() => {
    const victims = store.cache.list(resourceId(c.resource)).filter((e) => matches(f, e.obj) && !e.derived);
    const changes = victims.map((e) => ({
      t: {
        resource: c.resource,
        namespace: c.resource.namespaced ? String(meta(e.obj).namespace) : '',
        name: String(meta(e.obj).name),
      },
      change: { kind: 'delete' } as Change,
    }));
    if (changes.length) store.commit(changes[0]!.t, changes, { dryRun: dryRun(c) });
    return {
      code: 200,
      body: {
        kind: `${c.resource.kind}List`,
        apiVersion: apiVersionOf(c.resource),
        metadata: { resourceVersion: String(store.cache.resourceVersion) },
        items: victims.map((e) => e.obj),
      },
    };
  });
}

// ---- scale ----

function scaleOf(e: Entry): Obj {
  const o = e.obj;
  const m = meta(o);
  const spec = (isPlainObject(o.spec) ? o.spec : {}) as Obj;
  const status = (isPlainObject(o.status) ? o.status : {}) as Obj;
  const sel = isPlainObject(spec.selector) ? spec.selector : {};
  const labels = Object.entries(
    isPlainObject(sel.matchLabels) ? (sel.matchLabels as Record<string, string>) : {},
  ).map(([k, v]) => `${k}=${v}`);
  return {
    kind: 'Scale',
    apiVersion: 'autoscaling/v1',
    metadata: {
      name: m.name,
      namespace: m.namespace,
      uid: m.uid,
      resourceVersion: m.resourceVersion,
      creationTimestamp: m.creationTimestamp,
    },
    spec: { replicas: typeof spec.replicas === 'number' ? spec.replicas : 0 },
    status: {
      replicas: typeof status.replicas === 'number' ? status.replicas : 0,
      selector: labels.join(','),
    },
  };
}

export function getScale(store: ApiStore, c: Call): Obj {
  if (!c.resource.scale) throw errors.notFoundPath();
  const e = store.get(c.resource, objKey(c.namespace, c.name));
  if (!e) throw errors.notFound(statusTarget(c));
  return scaleOf(e);
}

export function writeScale(store: ApiStore, c: Call, method: 'PUT' | 'PATCH'): Promise<Reply> {
  if (!c.resource.scale) throw errors.notFoundPath();
  return store.serialize(() => {
    const cur = store.get(c.resource, objKey(c.namespace, c.name));
    if (!cur) throw errors.notFound(statusTarget(c));
    refuseDerived(c, cur, 'patch');
    const scale = scaleOf(cur);
    let next: Obj;
    if (method === 'PUT') {
      const body = objectBody(c, { group: 'autoscaling', kind: 'Scale' });
      if (body.apiVersion !== undefined || body.kind !== undefined)
        bodyType(SCALE, String(body.apiVersion ?? ''), String(body.kind ?? ''));
      next = body;
    } else next = applyPatch({ ...c, query: c.query }, scale, store.now());
    preconditionRv(c, next, cur);
    const replicas = (isPlainObject(next.spec) ? next.spec : {}).replicas;
    if (typeof replicas !== 'number' || !Number.isInteger(replicas) || replicas < 0) {
      throw errors.invalid({ group: 'autoscaling', resource: 'scale', kind: 'Scale', name: c.name }, [
        {
          field: 'spec.replicas',
          message: `Invalid value: ${JSON.stringify(replicas ?? null)}: must be greater than or equal to 0`,
        },
      ]);
    }
    const obj = structuredClone(cur.obj);
    obj.spec = { ...((isPlainObject(obj.spec) ? obj.spec : {}) as Obj), replicas };
    const body = toStored(c, obj, cur.obj, store.now(), store.newUid());
    const r = store.commit(target(c), [{ t: target(c), change: { kind: 'put', body } }], {
      dryRun: dryRun(c),
    });
    const after = r && 'rv' in r ? (r as Entry) : cur;
    return { code: 200, body: scaleOf(after) };
  });
}
