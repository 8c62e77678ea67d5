/**
 * One node as kube-proxy's ipvs proxier leaves it, for one family: the virtual servers (the shared
 * IpvsServiceSpec vocabulary of netmodel/ipvs), the kube-ipvs0 addresses, the ipsets (as `ipset restore`
 * input), the iptables payload with its setup, the sysctls and the `ipvsadm --set` timeouts. And how to
 * load the netfilter half (ipsets and iptables) into an emulated node.
 */
import type { IP } from '../../netmodel/addr.js';
import type { ClusterSnapshot } from '../../netmodel/cluster/snapshot.js';
import type { IpvsServiceSpec } from '../../netmodel/ipvs/types.js';
import type { KernelNode } from '../../netmodel/kernel/index.js';
import { applyIpsetRestore } from '../../netmodel/netfilter/index.js';
import {
  type IpvsJump,
  type IpvsRules,
  type IpvsSysctl,
  ipvsJumpsInFinalOrder,
  ipvsSetupRestore,
  ipvsSysctls,
  renderIpsetRestore,
  renderIpvsRules,
} from './rules.js';
import { computeIpvsNode, DUMMY_DEVICE, type IpvsNodeState, type IpvsRenderOptions } from './state.js';

export interface IpvsTimeouts {
  /** Seconds; 0 keeps the kernel's current value (ipvsadm --set semantics). */
  readonly tcp: number;
  readonly tcpFin: number;
  readonly udp: number;
}

export interface IpvsNodeRender {
  readonly state: IpvsNodeState;
  /** The virtual servers to program, in the proxier's order (service ports by name). */
  readonly services: readonly IpvsServiceSpec[];
  /** The dummy device and the addresses bound to it (each /32, /128 for IPv6). */
  readonly dummy: { readonly device: string; readonly addresses: readonly IP[] };
  /** `ipset restore` input: every set created (`-exist`), then its members. */
  readonly ipsetRestore: string;
  /** The iptables-restore payload (`*nat` then `*filter`), for `iptables-restore --noflush`. */
  readonly rules: IpvsRules;
  /** Chains and built-in jumps kube-proxy ensures before the payload, as one restore script. */
  readonly setupRestore: string;
  readonly jumps: readonly IpvsJump[];
  readonly sysctls: readonly IpvsSysctl[];
  /** `ipvsadm --set` values, or null when no timeout is configured (kube-proxy leaves the kernel's). */
  readonly timeouts: IpvsTimeouts | null;
}

/** A full sync of `nodeName` in ipvs mode. */
export function renderIpvsNode(
  snapshot: ClusterSnapshot,
  nodeName: string,
  opts: IpvsRenderOptions = {},
): IpvsNodeRender {
  const state = computeIpvsNode(snapshot, nodeName, opts);
  const c = snapshot.proxy.ipvs;
  const timeouts =
    c.tcpTimeoutSeconds > 0 || c.tcpFinTimeoutSeconds > 0 || c.udpTimeoutSeconds > 0
      ? { tcp: c.tcpTimeoutSeconds, tcpFin: c.tcpFinTimeoutSeconds, udp: c.udpTimeoutSeconds }
      : null;
  return {
    state,
    services: state.virtualServers.map((v) => v.spec),
    dummy: { device: DUMMY_DEVICE, addresses: state.dummyAddresses },
    ipsetRestore: renderIpsetRestore(state),
    rules: renderIpvsRules(state),
    setupRestore: ipvsSetupRestore(),
    jumps: ipvsJumpsInFinalOrder(),
    sysctls: ipvsSysctls(snapshot.proxy.ipvsStrictARP, opts.kernelVersion),
    timeouts,
  };
}

/**
 * Load the netfilter half of a render into an emulated node: the ipsets first (iptables refuses a rule
 * naming a set that does not exist), then the chains and the jumps not yet there, then the payload.
 * Sets are emptied and refilled, which leaves the same members kube-proxy's add/del diff would.
 */
export function applyIpvsNetfilter(node: KernelNode, r: IpvsNodeRender): void {
  const family = r.state.family;
  const store = node.nf.sets;
  for (const s of store.list()) if (r.ipsetRestore.includes(`create ${s.name} `)) store.flush(s.name);
  applyIpsetRestore(store, r.ipsetRestore);
  // kube-proxy ensures the chains and jumps on every sync (`iptables -C` before `-I`).
  const saved = node.save({ family });
  node.restore(
    ipvsSetupRestore((j) => saved.includes(`\n-A ${j.chain} ${j.rule}\n`)),
    { family, noflush: true },
  );
  node.restore(r.rules.restore, { family, noflush: true });
}

/** Every address of a node's interfaces except kube-ipvs0 (what kube-proxy reads with netlink). */
export function localAddressesOf(node: KernelNode): IP[] {
  return node.routing
    .interfaces()
    .filter((i) => i.name !== DUMMY_DEVICE)
    .flatMap((i) => i.addresses.map((a) => a.ip));
}
