/**
 * The emulated datapath of a whole cluster: every node's kernel (interfaces and routes from cni/,
 * rules from the proxy mode) built from a snapshot, and kept in step with later snapshots the way
 * kube-proxy keeps a node in step. iptables (and userspace, whose nodes carry the same rules): a full
 * sync first, partial syncs after. ipvs: every sync is a full one (kube-proxy's ipvs proxier rewrites
 * its whole iptables payload and diffs the ipsets and virtual servers against the kernel), with the
 * node's IPVS table kept so connections, persistence templates and weight-0 real servers carry over.
 * Conntrack, `recent` lists and IPVS connections survive updates, as they do on a real node.
 */
import { buildHostNetwork, type HostNetwork } from '../cni/index.js';
import type { Family } from '../netmodel/addr.js';
import type { ClusterSnapshot } from '../netmodel/cluster/index.js';
import type { Tuple } from '../netmodel/conntrack/index.js';
import { assert, ErrorCodes, KpathError } from '../netmodel/errors.js';
import type { KernelNode } from '../netmodel/kernel/index.js';
import { cleanStaleUdpEntries } from './conntrack-cleanup.js';
import { applyConntrackMax } from './conntrack-max.js';
import {
  applyFullSync,
  applyPartialSync,
  type NodeRender,
  type RenderOptions,
  renderNode,
  renderPartialSync,
  type SyncState,
} from './iptables/index.js';
import type { IpvsNodeRender, programIpvs } from './ipvs/index.js';

export interface DatapathOptions {
  readonly render?: RenderOptions;
  /** Which kube-proxy programs the nodes; default: the KubeProxyConfiguration's mode (userspace nodes carry iptables rules). */
  readonly mode?: 'iptables' | 'ipvs';
  /** ms on the caller's clock at build time (IPVS timers of new virtual servers start then). */
  readonly now?: number;
  /**
   * ipvs mode's node program (proxy/ipvs's programIpvs), passed in by whoever chose ipvs mode, so
   * that an iptables-mode datapath never loads IPVS. Required in ipvs mode.
   */
  readonly ipvs?: typeof programIpvs;
}

export class ClusterDatapath {
  private net: HostNetwork;
  private snap: ClusterSnapshot;
  /** Per `node/family`: the sync state and the last full render. */
  private readonly states = new Map<string, SyncState>();
  private readonly full = new Map<string, NodeRender>();
  /** ipvs mode: per `node/family`, the last sync's render. */
  private readonly ipvsRenders = new Map<string, IpvsNodeRender>();
  /** The families kube-proxy runs a proxier for: those of the cluster's service CIDRs. */
  private readonly families: readonly Family[];
  readonly mode: 'iptables' | 'ipvs';
  /** The caller's clock at the last build or update. */
  private now: number;

  private constructor(
    snap: ClusterSnapshot,
    private readonly opts: DatapathOptions,
  ) {
    this.snap = snap;
    this.now = opts.now ?? 0;
    this.mode = opts.mode ?? (snap.proxy.mode === 'ipvs' ? 'ipvs' : 'iptables');
    this.families = familiesOf(snap);
    this.net = buildHostNetwork(snap);
    for (const [name, node] of this.net.nodes) {
      applyConntrackMax(snap, name, node);
      for (const family of this.families) this.fullSync(snap, name, node, family);
    }
  }

  private fullSync(snap: ClusterSnapshot, name: string, node: KernelNode, family: Family): void {
    if (this.mode === 'ipvs') {
      const program = this.opts.ipvs;
      assert(program, 'ipvs mode needs DatapathOptions.ipvs (programIpvs)');
      this.ipvsRenders.set(`${name}/${family}`, program(snap, name, node, family, this.now));
      return;
    }
    const r = renderNode(snap, name, { ...this.opts.render, family });
    applyFullSync(node, r, { family });
    this.states.set(`${name}/${family}`, r.state);
    this.full.set(`${name}/${family}`, r);
  }

  /** iptables, ipvs (and userspace) modes; nftables is refused with what to use instead. */
  static build(snap: ClusterSnapshot, opts: DatapathOptions = {}): ClusterDatapath {
    if (!opts.mode && snap.proxy.mode === 'nftables') {
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

  /** ipvs mode: the last sync's render of a node (virtual servers, ipsets, rules) for one family. */
  ipvsRender(name: string, family: Family = 4): IpvsNodeRender | undefined {
    this.node(name);
    return this.ipvsRenders.get(`${name}/${family}`);
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
   * conntrack, recent lists and rules, then a kube-proxy partial sync of the rules, then its stale
   * UDP conntrack cleanup (proxy/conntrack-cleanup.ts). Returns the UDP entries that cleanup deleted,
   * per node: a relay standing for one of those flows must end it too.
   */
  update(
    next: ClusterSnapshot,
    changedServices?: Iterable<string>,
    now?: number,
  ): { readonly node: string; readonly original: Tuple }[] {
    const cleared: { node: string; original: Tuple }[] = [];
    const prev = this.snap;
    if (now !== undefined) this.now = now;
    this.net = buildHostNetwork(next, this.net.nodes);
    const changed = changedServices ? [...changedServices] : undefined;
    for (const [name, node] of this.net.nodes) {
      applyConntrackMax(next, name, node);
      for (const family of this.families) {
        if (this.mode === 'ipvs') {
          this.fullSync(next, name, node, family);
          continue;
        }
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
      for (const family of this.families)
        for (const original of cleanStaleUdpEntries(next, name, node, family, this.now))
          cleared.push({ node: name, original });
    }
    for (const m of [this.states, this.ipvsRenders])
      for (const key of [...m.keys()])
        if (!this.net.nodes.has(key.slice(0, key.lastIndexOf('/')))) m.delete(key);
    this.snap = next;
    return cleared;
  }
}

/** kube-proxy runs one proxier per family the cluster serves (its service CIDRs). */
export function familiesOf(snap: ClusterSnapshot): Family[] {
  const f = [...new Set(snap.config.serviceCIDRs.map((c) => c.ip.family))];
  return f.length ? f.sort() : [4];
}
