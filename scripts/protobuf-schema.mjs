#!/usr/bin/env node
/**
 * Writes proxy/api/protobuf/schema.ts: the fields of every Kubernetes struct kpath decodes from
 * protobuf request bodies, read from the Go struct tags (json and protobuf) of k8s.io/api's and
 * k8s.io/apimachinery's types.go, and checked against their generated.proto (field numbers, names).
 *
 *   node scripts/protobuf-schema.mjs API_CHECKOUT APIMACHINERY_CHECKOUT > proxy/api/protobuf/schema.ts
 *   npx biome format --write proxy/api/protobuf/schema.ts
 *
 * API_CHECKOUT is a working tree of github.com/kubernetes/api, APIMACHINERY_CHECKOUT one of
 * github.com/kubernetes/apimachinery. Only the tables come out; no upstream code is copied.
 */
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';

const [API, MACH] = process.argv.slice(2);
if (!API || !MACH) {
  console.error('usage: node scripts/protobuf-schema.mjs API_CHECKOUT APIMACHINERY_CHECKOUT');
  process.exit(2);
}
const FILES = {
  core: join(API, 'core/v1/types.go'),
  apps: join(API, 'apps/v1/types.go'),
  discovery: join(API, 'discovery/v1/types.go'),
  networking: join(API, 'networking/v1/types.go'),
  autoscaling: join(API, 'autoscaling/v1/types.go'),
  meta: join(MACH, 'pkg/apis/meta/v1/types.go'),
};
const PROTOS = [
  [join(API, 'core/v1/generated.proto'), 'core'],
  [join(API, 'apps/v1/generated.proto'), 'apps'],
  [join(API, 'discovery/v1/generated.proto'), 'discovery'],
  [join(API, 'networking/v1/generated.proto'), 'networking'],
  [join(API, 'autoscaling/v1/generated.proto'), 'autoscaling'],
  [join(MACH, 'pkg/apis/meta/v1/generated.proto'), 'meta'],
];
const commit = (dir) => {
  try {
    return execFileSync('git', ['-C', dir, 'rev-parse', '--short=12', 'HEAD'], { encoding: 'utf8' }).trim();
  } catch {
    return 'unknown';
  }
};
const ALIAS = { v1: 'core', metav1: 'meta' };
const SPECIAL = {
  'meta.Time': 'Time',
  'meta.MicroTime': 'MicroTime',
  'meta.Duration': 'Duration',
  'meta.FieldsV1': 'FieldsV1',
  'intstr.IntOrString': 'IntOrString',
  'resource.Quantity': 'Quantity',
  'runtime.RawExtension': 'RawExtension',
  'types.UID': 'string',
};
const SCALARS = new Set(['string', 'int32', 'int64', 'bool', 'float64', 'int', 'uint32', 'uint64']);

const structs = {}; // 'pkg.Name' -> fields
const named = {}; // 'pkg.Name' -> type expr (non-struct)
for (const [pkg, file] of Object.entries(FILES)) {
  const lines = readFileSync(file, 'utf8').split('\n');
  for (let i = 0; i < lines.length; i++) {
    let m = /^type (\w+) struct \{\s*$/.exec(lines[i]);
    if (m) {
      const fields = [];
      for (i++; i < lines.length && lines[i] !== '}'; i++) {
        const f = /^\t(?:(\w+)\s+)?([^\s`/]+)\s*`([^`]*)`/.exec(lines[i]);
        if (!f) continue;
        const tag = f[3];
        const pb = /protobuf:"([^"]*)"/.exec(tag);
        if (!pb) continue;
        const js = /json:"([^"]*)"/.exec(tag);
        const [wire, num] = pb[1].split(',');
        const [jname, ...jopts] = (js ? js[1] : '').split(',');
        fields.push({
          go: f[1] ?? f[2].replace(/^\*/, '').replace(/^.*\./, ''),
          type: f[2],
          wire,
          num: Number(num),
          json: jname,
          omit: jopts.includes('omitempty'),
          inline: jname === '' || jopts.includes('inline'),
          skip: jname === '-',
        });
      }
      structs[`${pkg}.${m[1]}`] = fields;
      continue;
    }
    m = /^type (\w+) ([^\s{=][^/]*?)\s*(\/\/.*)?$/.exec(lines[i]);
    if (m && !m[2].startsWith('interface') && !m[2].startsWith('func')) named[`${pkg}.${m[1]}`] = m[2];
  }
}

const used = new Set();
function resolve(expr, pkg) {
  if (expr.startsWith('*')) return `*${resolve(expr.slice(1), pkg)}`;
  if (expr === '[]byte') return 'bytes';
  if (expr.startsWith('[]')) return `[]${resolve(expr.slice(2), pkg)}`;
  const mm = /^map\[([^\]]+)\](.+)$/.exec(expr);
  if (mm) {
    const k = resolve(mm[1], pkg);
    if (k !== 'string') throw new Error(`map key ${expr}`);
    return `map[string]${resolve(mm[2], pkg)}`;
  }
  if (SCALARS.has(expr)) return expr;
  let q;
  if (expr.includes('.')) {
    const [p, n] = expr.split('.');
    q = `${ALIAS[p] ?? p}.${n}`;
  } else q = `${pkg}.${expr}`;
  if (SPECIAL[q]) return SPECIAL[q];
  if (structs[q]) {
    used.add(q);
    return q;
  }
  if (named[q]) return resolve(named[q], q.split('.')[0]);
  throw new Error(`unknown type ${expr} in ${pkg} (${q})`);
}

const ROOTS = [
  'core.Namespace',
  'core.NamespaceList',
  'core.Pod',
  'core.PodList',
  'core.Service',
  'core.ServiceList',
  'core.Endpoints',
  'core.EndpointsList',
  'core.ConfigMap',
  'core.ConfigMapList',
  'core.Node',
  'core.NodeList',
  'core.Event',
  'core.EventList',
  'apps.Deployment',
  'apps.DeploymentList',
  'apps.ReplicaSet',
  'apps.ReplicaSetList',
  'apps.StatefulSet',
  'apps.StatefulSetList',
  'apps.DaemonSet',
  'apps.DaemonSetList',
  'discovery.EndpointSlice',
  'discovery.EndpointSliceList',
  'networking.NetworkPolicy',
  'networking.NetworkPolicyList',
  'autoscaling.Scale',
  'meta.DeleteOptions',
  'meta.Status',
];
const out = {};
const queue = [...ROOTS];
for (const r of ROOTS) used.add(r);
while (queue.length) {
  const q = queue.shift();
  if (out[q]) continue;
  const pkg = q.split('.')[0];
  const fields = structs[q];
  if (!fields) throw new Error(`no struct ${q}`);
  out[q] = fields.map((f) => {
    const t = resolve(f.type, pkg);
    const base = t.replace(/^(\*|\[\]|map\[string\])+/, '');
    if (structs[base] && !out[base]) queue.push(base);
    return `${f.num} ${f.skip ? '-' : f.inline ? '.' : f.json} ${t}${f.omit ? ' o' : ''}`;
  });
}

// cross-check field numbers and names against generated.proto
let mismatches = 0;
for (const [file, pkg] of PROTOS) {
  const text = readFileSync(file, 'utf8');
  for (const m of text.matchAll(/^message (\w+) \{([\s\S]*?)^\}/gm)) {
    const q = `${pkg}.${m[1]}`;
    if (!out[q]) continue;
    const proto = new Map(
      [...m[2].matchAll(/^\s+(?:optional|repeated|map<[^>]+>)\s*(?:\S+\s+)?(\w+) = (\d+);/gm)].map((x) => [
        Number(x[2]),
        x[1],
      ]),
    );
    for (const line of out[q]) {
      const [n, name] = line.split(' ');
      if (name === '.' || name === '-') continue;
      if (proto.get(Number(n)) !== name) {
        console.error(`${q} field ${n}: types.go says ${name}, generated.proto ${proto.get(Number(n))}`);
        mismatches++;
      }
    }
  }
}

if (mismatches) process.exit(1);
const keys = Object.keys(out).sort();
let s = `/**
 * The Kubernetes objects kpath decodes from protobuf request bodies, restated as a table from the Go
 * struct tags of k8s.io/api {core,apps,discovery,networking,autoscaling}/v1/types.go (commit ${commit(API)})
 * and k8s.io/apimachinery pkg/apis/meta/v1/types.go (commit ${commit(MACH)}); the field numbers and names agree
 * with their generated.proto. Every struct reachable from the kinds in KINDS is listed, whole.
 * Written by scripts/protobuf-schema.mjs.
 *
 * One line per Go struct field, in declaration order (the order encoding/json writes them):
 *   NUMBER JSONNAME TYPE [o]
 *   JSONNAME  '.' for an embedded struct whose fields JSON inlines (Volume's VolumeSource)
 *   TYPE      string int32 int64 bool bytes: scalars as Go holds them ('bytes' is []byte)
 *             pkg.Name: another struct of this table (a length-delimited message)
 *             Time MicroTime IntOrString Quantity FieldsV1: apimachinery's own encodings
 *             *T (a pointer: absent is nil), []T (repeated), map[string]T (repeated key=1/value=2 entries)
 *   o         the json tag has omitempty
 */
export const MESSAGES: Readonly<Record<string, readonly string[]>> = {
`;
for (const k of keys) s += `  '${k}': [\n${out[k].map((l) => `    '${l}',`).join('\n')}\n  ],\n`;
s += '};\n';
process.stdout.write(s);
console.error(`${keys.length} structs, ${keys.reduce((a, k) => a + out[k].length, 0)} fields`);
