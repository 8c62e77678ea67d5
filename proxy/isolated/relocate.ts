/**
 * A cluster made to run next to anything else on this machine: the same objects, with a Cluster
 * `loopbackMap` that gives its services, pods and nodes loopback addresses of their own (so a
 * `kpath up` of the same manifests keeps its twins), and, when this process may not bind ports below
 * 1024, those ports moved up by PORT_SHIFT (a service's 80 becomes 10080, kube-dns's 53 10053) on
 * both sides: service ports and numeric target ports, container ports, probe ports, Endpoints and
 * EndpointSlice ports, NetworkPolicy ports and a DockerHost's `-p`/`--expose` ports. Model addresses are unchanged: traces, `kpath get` and
 * what the pods report show the same IPs. Pure: text in, text out.
 */
import { parseAllDocuments, stringify } from 'yaml';
import type { ManifestSource } from '../../netmodel/cluster/index.js';
import { shiftedDockerPort } from './docker-ports.js';

/** Ports below this are moved by PORT_SHIFT when shifting. */
export const PRIVILEGED_BELOW = 1024;
export const PORT_SHIFT = 10000;

export interface Relocation {
  /** Added to the Cluster's loopbackMap (a Cluster document is added when the manifests have none). */
  readonly loopbackMap: readonly { model: string; loopback: string }[];
  /** Move ports below PRIVILEGED_BELOW up by PORT_SHIFT. */
  readonly shiftPorts: boolean;
  /** A service port's node port to use instead of the one written (undefined: keep it). */
  readonly nodePort?: (namespace: string, service: string, nodePort: number) => number | undefined;
  /** The name of each source in the result, from its original name (default: unchanged). */
  readonly rename?: (file: string) => string;
}

type Obj = Record<string, unknown>;

/** The port a privileged one moves to (unchanged when not shifting, or not privileged). */
export function shiftedPort(port: number, shiftPorts: boolean): number {
  return shiftPorts && port > 0 && port < PRIVILEGED_BELOW ? port + PORT_SHIFT : port;
}

function shift(port: unknown, on: boolean): unknown {
  return typeof port === 'number' ? shiftedPort(port, on) : port;
}

function arr(v: unknown): Obj[] {
  return Array.isArray(v) ? (v.filter((x) => x !== null && typeof x === 'object') as Obj[]) : [];
}

function obj(v: unknown): Obj | undefined {
  return v !== null && typeof v === 'object' && !Array.isArray(v) ? (v as Obj) : undefined;
}

const POD_TEMPLATE_KINDS = new Set(['Deployment', 'ReplicaSet', 'StatefulSet', 'DaemonSet', 'Job']);

function podSpecOf(o: Obj): Obj | undefined {
  const spec = obj(o.spec);
  if (!spec) return undefined;
  if (o.kind === 'Pod') return spec;
  if (POD_TEMPLATE_KINDS.has(String(o.kind))) return obj(obj(spec.template)?.spec);
  return undefined;
}

function shiftProbe(probe: unknown, on: boolean): void {
  const p = obj(probe);
  if (!p) return;
  for (const k of ['httpGet', 'tcpSocket', 'grpc']) {
    const a = obj(p[k]);
    if (a) a.port = shift(a.port, on);
  }
}

function relocateObject(o: Obj, r: Relocation): Obj {
  const on = r.shiftPorts;
  const meta = obj(o.metadata) ?? {};
  switch (o.kind) {
    case 'Cluster': {
      const spec = { ...(obj(o.spec) ?? {}) };
      spec.loopbackMap = [...arr(spec.loopbackMap), ...r.loopbackMap];
      return { ...o, spec };
    }
    case 'Service': {
      for (const p of arr(obj(o.spec)?.ports)) {
        p.port = shift(p.port, on);
        p.targetPort = shift(p.targetPort, on);
        if (typeof p.nodePort === 'number' && r.nodePort) {
          const np = r.nodePort(String(meta.namespace ?? 'default'), String(meta.name), p.nodePort);
          if (np !== undefined) p.nodePort = np;
        }
      }
      return o;
    }
    case 'Endpoints':
      for (const s of arr(o.subsets)) for (const p of arr(s.ports)) p.port = shift(p.port, on);
      return o;
    case 'EndpointSlice':
      for (const p of arr(o.ports)) p.port = shift(p.port, on);
      return o;
    case 'DockerHost':
      // `-p` and `--expose` arguments: host and container ports move alike (80:80 -> 10080:10080).
      for (const c of arr(obj(o.spec)?.containers)) {
        if (Array.isArray(c.ports)) c.ports = c.ports.map((p) => shiftedDockerPort(p, on));
        if (Array.isArray(c.expose)) c.expose = c.expose.map((p) => shiftedDockerPort(p, on));
      }
      return o;
    case 'NetworkPolicy': {
      const spec = obj(o.spec);
      for (const rule of [...arr(spec?.ingress), ...arr(spec?.egress)])
        for (const p of arr(rule.ports)) p.port = shift(p.port, on);
      return o;
    }
    default: {
      const ps = podSpecOf(o);
      if (ps)
        for (const c of [...arr(ps.containers), ...arr(ps.initContainers)]) {
          for (const p of arr(c.ports)) p.containerPort = shift(p.containerPort, on);
          shiftProbe(c.readinessProbe, on);
          shiftProbe(c.livenessProbe, on);
          shiftProbe(c.startupProbe, on);
        }
      return o;
    }
  }
}

/**
 * The manifests rewritten for one isolated run. Documents that are not objects (empty ones) are
 * dropped; a source whose YAML does not parse is passed through unchanged, so the build reports it.
 */
export function relocateManifests(sources: readonly ManifestSource[], r: Relocation): ManifestSource[] {
  let haveCluster = false;
  const out = sources.map((src) => {
    const docs = parseAllDocuments(src.text);
    const list = Array.isArray(docs) ? docs : [docs];
    const file = r.rename ? r.rename(src.file) : src.file;
    if (list.some((d) => d.errors.length > 0)) return { file, text: src.text };
    const objs = list
      .map((d) => d.toJS() as unknown)
      .filter((o): o is Obj => obj(o) !== undefined)
      .map((o) => {
        if (o.kind === 'Cluster') haveCluster = true;
        return relocateObject(o, r);
      });
    return { file, text: objs.map((o) => stringify(o)).join('---\n') };
  });
  if (!haveCluster && r.loopbackMap.length)
    out.unshift({
      file: '<isolated>/cluster.yaml',
      text: stringify({
        apiVersion: 'kpath.dev/v1alpha1',
        kind: 'Cluster',
        metadata: { name: 'kpath' },
        spec: { loopbackMap: r.loopbackMap },
      }),
    });
  return out;
}
