/**
 * hostPort on an emulated node: every pod on the node with a container port that has a `hostPort`
 * gets the portmap plugin's rules, as the runtime runs the conflist's portmap plugin with the
 * `portMappings` capability (kubelet passes each hostPort with its containerPort and protocol) after
 * the main plugin. The conflist is the one the plugin ships: kube-flannel's `cbr0` (flannel, then
 * portmap) for flannel and the bridge plugin, Calico's `k8s-pod-network` (calico, bandwidth, portmap).
 *
 * The container ID is the pod sandbox's, which kpath does not have: it uses the hex SHA-256 of
 * `namespace/name` (64 hex characters, the shape of a containerd sandbox ID), so chain names are
 * stable across runs. Pods are set up in the snapshot's order.
 */
import { createHash } from 'node:crypto';
import type { ClusterSnapshot, Node, Pod } from '../../netmodel/cluster/index.js';
import type { KernelNode } from '../../netmodel/kernel/index.js';
import { podsOn } from '../node-base.js';
import { applyIptOps } from './chains.js';
import { type PortMapping, portmapAdd } from './portmap.js';

/** The sandbox ID kpath gives a pod (see above). */
export function sandboxId(pod: Pod): string {
  return createHash('sha256').update(`${pod.meta.namespace}/${pod.meta.name}`).digest('hex');
}

/** The CNI network name of the cluster's plugin (the conflist's `name`). */
export function cniNetworkName(snap: ClusterSnapshot): string {
  return snap.config.network.plugin === 'calico' ? 'k8s-pod-network' : 'cbr0';
}

/** The pod's hostPort mappings, in container and port order. */
export function hostPortsOf(pod: Pod): PortMapping[] {
  const out: PortMapping[] = [];
  for (const c of pod.containers)
    for (const p of c.ports)
      if (p.hostPort !== undefined)
        out.push({
          hostPort: p.hostPort,
          containerPort: p.containerPort,
          protocol: p.protocol.toLowerCase(),
        });
  return out;
}

/** portmap's rules for every pod on node `n` with a hostPort (IPv4). */
export function addHostPorts(snap: ClusterSnapshot, k: KernelNode, n: Node): void {
  const network = cniNetworkName(snap);
  const calico = snap.config.network.plugin === 'calico';
  for (const pod of podsOn(snap, n)) {
    const mappings = hostPortsOf(pod);
    const ip = pod.podIPs.find((a) => a.family === 4);
    if (mappings.length === 0 || !ip) continue;
    // The address as the main plugin's result gives it: the node's pod subnet (host-local), a /32 (Calico IPAM).
    const bits = calico ? 32 : (n.podCIDRs.find((c) => c.ip.family === 4)?.bits ?? 32);
    applyIptOps(
      k,
      portmapAdd({ network, containerId: sandboxId(pod), containerNet: `${ip.text}/${bits}`, mappings }),
    );
  }
}
