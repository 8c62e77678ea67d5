/**
 * The bundled cluster, made to run next to anything else on this machine: the same objects, with
 * a Cluster `loopbackMap` that gives its services, pods and nodes loopback addresses of their own
 * (so a `kpath up` of the same cluster keeps its twins), and, when this process may not bind ports
 * below 1024, those ports moved up by 10000 (web's 80 becomes 10080, kube-dns's 53 10053).
 * Model addresses are unchanged: `kpath get` and the traces show the same IPs.
 */
import { parseAllDocuments, stringify } from 'yaml';
import type { ManifestSource } from '../../netmodel/cluster/index.js';

/** Ports below this are moved by PORT_SHIFT when shifting. */
export const PRIVILEGED_BELOW = 1024;
export const PORT_SHIFT = 10000;

export interface DemoLayout {
  /** 0..3: which loopback block this run uses. */
  readonly slot: number;
  readonly shiftPorts: boolean;
  /** The node port web-nodeport gets (30080 unless that is taken on 127.0.0.1). */
  readonly nodePort: number;
}

export const DEMO_SLOTS = 4;

/** The outside client's model address (its twin comes from the loopbackMap). */
export const EXTERNAL_CLIENT = '192.0.2.10';

/** The loopbackMap for a slot: services /12, pods /16 and nodes /24 on blocks no other kpath use takes. */
export function demoLoopbackMap(slot: number): { model: string; loopback: string }[] {
  return [
    { model: '10.96.0.0/12', loopback: `127.${32 + 16 * slot}.0.0/12` },
    { model: '10.244.0.0/16', loopback: `127.${16 + 2 * slot}.0.0/16` },
    { model: '10.0.0.0/24', loopback: `127.${17 + 2 * slot}.0.0/24` },
    // A client outside the cluster, in TEST-NET-1 (RFC 5737), so NodePort traffic arrives from afar.
    { model: '192.0.2.0/24', loopback: `127.${17 + 2 * slot}.2.0/24` },
  ];
}

type Obj = Record<string, unknown>;

function shift(port: unknown, on: boolean): unknown {
  return on && typeof port === 'number' && port < PRIVILEGED_BELOW ? port + PORT_SHIFT : port;
}

function arr(v: unknown): Obj[] {
  return Array.isArray(v) ? (v as Obj[]) : [];
}

function podSpecOf(o: Obj): Obj | undefined {
  const spec = o.spec as Obj | undefined;
  if (!spec) return undefined;
  if (o.kind === 'Pod') return spec;
  return ((spec.template as Obj | undefined)?.spec as Obj | undefined) ?? undefined;
}

/** Rewrite the bundled manifests for one demo run. Pure: text in, text out. */
export function demoManifests(sources: readonly ManifestSource[], layout: DemoLayout): ManifestSource[] {
  return sources.map((src) => {
    const docs = parseAllDocuments(src.text);
    const out = (Array.isArray(docs) ? docs : [docs])
      .map((d) => d.toJS() as Obj | null)
      .filter((o): o is Obj => o !== null && typeof o === 'object')
      .map((o) => {
        if (o.kind === 'Cluster') {
          const spec = { ...((o.spec as Obj) ?? {}) };
          spec.loopbackMap = [...arr(spec.loopbackMap), ...demoLoopbackMap(layout.slot)];
          return { ...o, spec };
        }
        if (o.kind === 'Service') {
          const spec = o.spec as Obj;
          for (const p of arr(spec.ports)) {
            p.port = shift(p.port, layout.shiftPorts);
            p.targetPort = shift(p.targetPort, layout.shiftPorts);
            if (p.nodePort !== undefined && (o.metadata as Obj).name === 'web-nodeport')
              p.nodePort = layout.nodePort;
          }
          return o;
        }
        const ps = podSpecOf(o);
        if (ps)
          for (const c of arr(ps.containers))
            for (const p of arr(c.ports)) p.containerPort = shift(p.containerPort, layout.shiftPorts);
        return o;
      });
    return { file: `<demo>/${src.file.split('/').pop()}`, text: out.map((o) => stringify(o)).join('---\n') };
  });
}
