/**
 * The emulated datapath of a whole cluster: every node's kernel (interfaces and routes from cni/,
 * rules from the proxy mode) built from a snapshot, and kept in step with later snapshots the way
 * kube-proxy keeps a node in step (a full sync first, partial syncs after). Conntrack and `recent`
 * state survive updates, as they do on a real node.
 */
import { buildHostNetwork, type HostNetwork } from '../cni/index.js';
import type { Family } from '../netmodel/addr.js';
import type { ClusterSnapshot } from '../netmodel/cluster/index.js';
import { ErrorCodes, KpathError } from '../netmodel/errors.js';
import type { KernelNode } from '../netmodel/kernel/index.js';
import {
  applyFullSync,
  applyPartialSync,
  type NodeRender,
  type RenderOptions,
  renderNode,
  renderPartialSync,
  type SyncState,
} from './iptables/index.js';

export interface DatapathOptions {
  readonly render?: RenderOptions;
}

export class ClusterDatapath {
  private net: HostNetwork;
  private snap: ClusterSnapshot;
  /** Per `node/family`: the sync state and the last full render. */
  private readonly states = new Map<string, SyncState>();
  private readonly full = new Map<string, NodeRender>();
  /** The families kube-proxy runs a proxier for: those of the cluster's service CIDRs. */
  private readonly families: readonly Family[];

  private constructor(
    snap: ClusterSnapshot,
    private readonly opts: DatapathOptions,
  ) {
    this.snap = snap;
    this.families = familiesOf(snap);
    this.net = buildHostNetwork(snap);
    for (const [name, node] of this.net.nodes) {
      for (const family of this.families) this.fullSync(snap, name, node, family);
    }
  }

  private fullSync(snap: ClusterSnapshot, name: string, node: KernelNode, family: Family): void {
    const r = renderNode(snap, name, { ...this.opts.render, family });
    applyFullSync(node, r, { family });
    this.states.set(`${name}/${family}`, r.state);
    this.full.set(`${name}/${family}`, r);
  }

  /** iptables (and userspace) mode only for now; ipvs and nftables are refused with what is missing. */
  static build(snap: ClusterSnapshot, opts: DatapathOptions = {}): ClusterDatapath {
    if (snap.proxy.mode === 'ipvs') {
      throw new KpathError(
        ErrorCodes.UNSUPPORTED,
        "the emulated datapath does not run ipvs mode yet: kube-proxy's ipvs rules and ipsets are modelled (`kpath rules`, `kpath ipset`) but the emulated kernel IPVS that picks real servers is not wired in (set mode: iptables to trace and run this cluster)",
      );
    }
    if (snap.proxy.mode !== 'iptables' && snap.proxy.mode !== 'userspace') {
      throw new KpathError(
        ErrorCodes.UNSUPPORTED,
        `the emulated datapath models kube-proxy's iptables mode; this cluster's KubeProxyConfiguration says mode: ${snap.proxy.mode} (set mode: iptables to emulate it)`,
      );
    }
    return new ClusterDatapath(snap, opts);
  }

  get snapshot(): ClusterSnapshot {
    return this.snap;
  }

  get network(): HostNetwork {
    return this.net;
  }

  /** The names of the emulated nodes. */
  nodeNames(): string[] {
    return [...this.net.nodes.keys()];
  }

  node(name: string): KernelNode {
    const n = this.net.nodes.get(name);
    if (!n) {
      throw new KpathError(
        ErrorCodes.NOT_FOUND,
        `node "${name}" does not exist (nodes: ${[...this.net.nodes.keys()].join(', ')})`,
      );
    }
    return n;
  }

  /** The last full render of a node (the payload kube-proxy wrote at startup) for one family. */
  render(name: string, family: Family = 4): NodeRender {
    this.node(name);
    const r = this.full.get(`${name}/${family}`);
    if (!r)
      throw new KpathError(
        ErrorCodes.NOT_FOUND,
        `the cluster has no IPv${family} service CIDR, so kube-proxy writes no IPv${family} rules`,
      );
    return r;
  }

  /**
   * Move to a new snapshot: rebuild interfaces and routes (pods come and go) keeping each node's
   * conntrack, recent lists and rules, then a kube-proxy partial sync of the rules.
   */
  update(next: ClusterSnapshot, changedServices?: Iterable<string>): void {
    const prev = this.snap;
    this.net = buildHostNetwork(next, this.net.nodes);
    const changed = changedServices ? [...changedServices] : undefined;
    for (const [name, node] of this.net.nodes) {
      for (const family of this.families) {
        const state = this.states.get(`${name}/${family}`);
        if (!state) {
          this.fullSync(next, name, node, family);
          continue;
        }
        const r = renderPartialSync(prev, next, name, state, {
          ...this.opts.render,
          family,
          ...(changed ? { changedServices: changed } : {}),
        });
        applyPartialSync(node, r, { family });
        this.states.set(`${name}/${family}`, r.state);
      }
    }
    for (const key of [...this.states.keys()])
      if (!this.net.nodes.has(key.slice(0, key.lastIndexOf('/')))) this.states.delete(key);
    this.snap = next;
  }
}

/** kube-proxy runs one proxier per family the cluster serves (its service CIDRs). */
export function familiesOf(snap: ClusterSnapshot): Family[] {
  const f = [...new Set(snap.config.serviceCIDRs.map((c) => c.ip.family))];
  return f.length ? f.sort() : [4];
}
