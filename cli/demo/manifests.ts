/**
 * The bundled cluster, made to run next to anything else on this machine (proxy/isolated): the same
 * objects, with a Cluster `loopbackMap` that gives its services, pods and nodes loopback addresses of
 * their own (so a `kpath up` of the same cluster keeps its twins), and, when this process may not
 * bind ports below 1024, those ports moved up by 10000 (web's 80 becomes 10080, kube-dns's 53 10053).
 * Model addresses are unchanged: `kpath get` and the traces show the same IPs.
 */
import type { ManifestSource } from '../../netmodel/cluster/index.js';
import { relocateManifests, type Slot } from '../../proxy/isolated/index.js';

export { PORT_SHIFT, PRIVILEGED_BELOW } from '../../proxy/isolated/index.js';

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

/** The demo's slots, in the order `kpath demo` tries them (no lock: a bind failure moves on). */
export function demoSlots(): Slot[] {
  return Array.from({ length: DEMO_SLOTS }, (_, slot) => ({ loopbackMap: demoLoopbackMap(slot) }));
}

/** web-nodeport's node port as the layout says (30080 unless that is taken on 127.0.0.1). */
export function demoNodePort(layout: Pick<DemoLayout, 'nodePort'>) {
  return (_ns: string, name: string, _port: number): number | undefined =>
    name === 'web-nodeport' ? layout.nodePort : undefined;
}

/** Rewrite the bundled manifests for one demo run. Pure: text in, text out. */
export function demoManifests(sources: readonly ManifestSource[], layout: DemoLayout): ManifestSource[] {
  return relocateManifests(sources, {
    loopbackMap: demoLoopbackMap(layout.slot),
    shiftPorts: layout.shiftPorts,
    nodePort: demoNodePort(layout),
    rename: (file) => `<demo>/${file.split('/').pop()}`,
  });
}
