/**
 * iptables mode for real traffic: every new connection or UDP flow is decided by the entry node's
 * emulated kernel, programmed with the rules kube-proxy writes (proxy/datapath). The first packet
 * is walked through the node exactly as `kpath trace` walks it; the verdict (DNAT target, masquerade
 * or not, REJECT, DROP) is what the real sockets then do. The reply and the handshake's last ACK are
 * walked too, so the emulated conntrack entry becomes ESTABLISHED like the kernel's.
 *
 * Differences from the kernel, by necessity: a DROP leaves the client connected but unanswered (the
 * runtime cannot withhold a SYN-ACK on a loopback socket); a refused DNAT target resets the client
 * instead of retransmitting SYNs.
 */

import { type IP, joinHostPort, v4 } from '../../../netmodel/addr.js';
import type { Clock } from '../../../netmodel/clock.js';
import type { ClusterSnapshot, Protocol } from '../../../netmodel/cluster/index.js';
import type { ConntrackEntryView, Tuple } from '../../../netmodel/conntrack/index.js';
import type { IpvsTable } from '../../../netmodel/ipvs/index.js';
import {
  dnatOf,
  type KernelNode,
  receiveOutcome,
  receiveVerdict,
  sendOutcome,
  sendVerdict,
  snatOf,
  type WalkEnv,
  type WalkVerdict,
} from '../../../netmodel/kernel/index.js';
import {
  ACK,
  FIN_ACK,
  type L4Proto,
  type Packet,
  packet,
  refillPacket,
  SYN,
  SYN_ACK,
  type TcpFlags,
} from '../../../netmodel/packet.js';
import type { Rng } from '../../../netmodel/rng.js';
import { categorizeEndpoints, servicePortViews } from '../../../netmodel/service/index.js';
import { ClusterDatapath, type DatapathOptions, familiesOf } from '../../datapath.js';
import type { NodeRender } from '../../iptables/index.js';
import {
  type Admission,
  type AffinityEntry,
  type Decision,
  type FlowRequest,
  type ModeEndpoints,
  type ProxyMode,
  udpFlowKey,
} from './types.js';

export interface IptablesModeOptions {
  readonly clock: Clock;
  readonly rng: Rng;
  /**
   * Which kube-proxy programs the emulated nodes (default iptables). ipvs: the node's IPVS picks the
   * real server (its scheduler, connection table and persistence), kube-proxy's ipvs-mode iptables
   * rules masquerade; the walk and everything after it are the same.
   */
  readonly kernelMode?: 'iptables' | 'ipvs';
  /** ipvs mode: the node program (proxy/ipvs's programIpvs), loaded by whoever chose the mode. */
  readonly ipvs?: DatapathOptions['ipvs'];
}

/** One attempt: a refused DNAT target is a reset, as in the kernel (no retry to another endpoint). */
export const KERNEL_DIAL_TIMEOUTS_MS: readonly number[] = Object.freeze([3000]);

export class IptablesMode implements ProxyMode {
  readonly name: 'iptables' | 'ipvs';
  readonly dialTimeoutsMs = KERNEL_DIAL_TIMEOUTS_MS;
  private dp: ClusterDatapath | undefined;
  private snap: ClusterSnapshot | undefined;
  /** recent-list name (KUBE-SEP-...) -> service port and endpoint, for `kpath affinity`. */
  /** The UDP flows the last sync's conntrack cleanup deleted (udpFlowKey). */
  private cleared: ReadonlySet<string> = new Set();
  private sepOwners = new Map<string, { servicePort: string; endpoint: string; seconds: number }>();

  constructor(private readonly opts: IptablesModeOptions) {
    this.name = opts.kernelMode ?? 'iptables';
    this.env = { now: 0, rng: opts.rng, noStages: true };
  }

  /** The emulated nodes (their conntrack, IPVS and rules) as the real flows left them. */
  datapath(): ClusterDatapath | undefined {
    return this.dp;
  }

  /**
   * The kernel's conntrack gc worker: expired entries (closed connections past TIME_WAIT, UDP flows
   * past their timeout) leave the emulated tables, which would otherwise keep them until the same
   * tuple comes back.
   */
  housekeeping(now: number): void {
    const dp = this.dp;
    if (!dp) return;
    for (const name of dp.nodeNames()) {
      const node = dp.node(name);
      node.conntrack.gc(now);
      node.ipvs?.expire(now);
    }
  }

  sync(snap: ClusterSnapshot): void {
    const now = this.opts.clock.now();
    if (!this.dp)
      this.dp = ClusterDatapath.build(snap, {
        mode: this.name,
        now,
        ...(this.opts.ipvs ? { ipvs: this.opts.ipvs } : {}),
      });
    else {
      const cleared = this.dp.update(snap, undefined, now);
      this.cleared = new Set(
        cleared.map((c) =>
          udpFlowKey(c.node, c.original.src.text, c.original.sport, c.original.dst.text, c.original.dport),
        ),
      );
    }
    // The runtime keeps no conntrack view past the call that got it (decide, closed, housekeeping's
    // gc; the API lists the runtime's own connections), so dead entries may become new flows instead
    // of garbage (netmodel/conntrack/table.ts, recycle): ~30,000 TIME_WAIT entries at bench rates.
    for (const name of this.dp.nodeNames()) this.dp.node(name).conntrack.recycle(true);
    this.snap = snap;
    this.sepOwners = new Map();
    if (this.name === 'ipvs') return;
    for (const n of snap.nodes) {
      for (const family of familiesOf(snap)) this.learnAffinityChains(this.dp.render(n.meta.name, family));
    }
  }

  /** recent-list names (KUBE-SEP-...) of affinity services -> service port and endpoint. */
  private learnAffinityChains(r: NodeRender): void {
    for (const sp of r.services) {
      if (sp.view.affinitySeconds === null) continue;
      for (const chain of sp.natChains) {
        if (!chain.startsWith('KUBE-SEP-')) continue;
        const line = sp.natChainRules.find((l) => l.startsWith(`-A ${chain} `) && l.includes('DNAT'));
        const ep = line ? / --to-destination (\S+)/.exec(line)?.[1] : undefined;
        this.sepOwners.set(chain, {
          servicePort: sp.view.name,
          endpoint: ep ?? '?',
          seconds: sp.view.affinitySeconds,
        });
      }
    }
  }

  decide(flow: FlowRequest, attempt: number, admit?: Admission): Decision {
    if (attempt > 0)
      return { kind: 'reject', reason: 'the endpoint the kernel chose refused the connection' };
    const dp = this.dp;
    if (!dp) return { kind: 'reject', reason: 'no cluster loaded' };
    const node = dp.node(flow.entryNode); // throws KPATH_E_NOT_FOUND for an unknown node
    const proto = flow.protocol === 'TCP' ? 'tcp' : 'udp';
    const env = this.walkEnv();
    const src = flow.client.ip;
    const first = this.nextStep(
      proto,
      src,
      flow.destination.ip,
      flow.client.port,
      flow.destination.port,
      SYN,
    );
    const r = this.verdictFrom(node, flow.entryNode, first, env, flow.clientIsNodeProcess);
    // r is refilled by the next walk: what comes after it reads the entry from here.
    const ct = r.ct;
    const d = this.verdict(r, src);
    if (d.kind !== 'forward') return d;
    const denied = admit?.(d);
    if (denied) {
      // The CNI drops it in filter FORWARD/OUTPUT, before conntrack confirms at POSTROUTING: on the
      // entry node (egress at the client pod, or ingress at an endpoint pod there) the unconfirmed
      // entry dies with the packet. Dropped at another node's pod, the entry node forwarded it and
      // keeps its SYN_SENT [UNREPLIED] entry. Either way no reply comes: no handshake.
      const onEntry =
        denied.direction === 'Egress' || dp.network.podByAddress(d.endpoint.ip)?.nodeName === flow.entryNode;
      if (onEntry && ct) node.conntrack.deleteTuple(ct.original, env.now);
      return denied.decision;
    }
    // The reply and the client's ACK at the SYN's clock reading (the same millisecond but for a rare
    // tick between two readings: the real handshake is over by the time decide runs).
    if (ct) this.completeHandshake(node, flow, ct, env);
    return d;
  }

  clearedUdp(): ReadonlySet<string> {
    return this.cleared;
  }

  /**
   * The walks' environment: one object, its clock reading refreshed for each connection event (a walk
   * reads it while it runs and keeps nothing of it).
   */
  private readonly env: { now: number; readonly rng: Rng; readonly noStages: true };

  private walkEnv(): WalkEnv {
    this.env.now = this.opts.clock.now();
    return this.env;
  }

  /**
   * Walk a packet into the entry node from where its source is: generated on the node (a process, or
   * the node's own address), or arriving on cni0 (one of its pods) or eth0 (anything else). The
   * verdict is an object the next walk refills.
   */
  private verdictFrom(
    node: KernelNode,
    nodeName: string,
    p: Packet,
    env: WalkEnv,
    nodeProcess = false,
  ): WalkVerdict {
    if (nodeProcess || node.isLocal(p.src)) return sendVerdict(node, p, env);
    return receiveVerdict(node, p, this.dp!.network.ingressFor(nodeName, p.src), env);
  }

  /** verdictFrom for a packet whose walk only moves conntrack on (the caller reads nothing of it). */
  private stepFrom(node: KernelNode, nodeName: string, p: Packet, env: WalkEnv, nodeProcess = false): void {
    if (nodeProcess || node.isLocal(p.src)) sendOutcome(node, p, env);
    else receiveOutcome(node, p, this.dp!.network.ingressFor(nodeName, p.src), env);
  }

  /**
   * The packet of the next lean step (SYN-ACK, the handshake's ACK, the close's three packets): a walk
   * copies the caller's packet before changing anything and keeps none of it once it returns
   * (copy-on-write, netmodel/kernel/walk.ts), and conntrack keeps tuples, not packets, so this one
   * object, rewritten in full (packet()'s fields and defaults) before each step, serves them all
   * instead of five new packets per connection.
   */
  private readonly stepPacket = packet({ proto: 'tcp', src: v4(0), dst: v4(0) });

  /** stepPacket rewritten as packet({ proto, src, dst, sport, dport, tcp }) would make it. */
  private nextStep(proto: L4Proto, src: IP, dst: IP, sport: number, dport: number, tcp: TcpFlags): Packet {
    return refillPacket(this.stepPacket, proto, src, dst, sport, dport, tcp);
  }

  /** The packet an endpoint sends back for a conntrack entry (its reply tuple), as the next step. */
  private replyStep(reply: Tuple, tcp: TcpFlags): Packet {
    return this.nextStep(reply.proto, reply.src, reply.dst, reply.sport, reply.dport, tcp);
  }

  private verdict(r: WalkVerdict, src: IP): Decision {
    switch (r.outcome.kind) {
      case 'rejected':
        return {
          kind: 'reject',
          reason: `REJECT in ${r.outcome.table} ${r.outcome.hook} (${r.outcome.with})`,
        };
      case 'dropped':
        return { kind: 'drop', reason: r.outcome.reason };
      case 'unreachable':
        return { kind: 'reject', reason: `unreachable: ${r.outcome.reason}` };
      case 'sent':
      case 'delivered': {
        const dnat = dnatOf(r.ct, r.ctDir, r.ipvsConn);
        if (!dnat)
          return {
            kind: 'reject',
            reason: 'no kube-proxy rule rewrote the destination: nothing listens there',
          };
        return { kind: 'forward', endpoint: dnat, source: snatOf(r.ct, r.ctDir)?.ip ?? src };
      }
    }
  }

  /** Walk the reply (and the client's ACK) so the conntrack entry is ESTABLISHED, as on a real node. */
  private completeHandshake(node: KernelNode, flow: FlowRequest, ct: ConntrackEntryView, env: WalkEnv): void {
    const name = flow.entryNode;
    this.stepFrom(node, name, this.replyStep(ct.reply, SYN_ACK), env);
    if (flow.protocol === 'TCP') {
      const { client, destination } = flow;
      const ack = this.nextStep('tcp', client.ip, destination.ip, client.port, destination.port, ACK);
      this.stepFrom(node, name, ack, env, flow.clientIsNodeProcess);
    }
  }

  /** The connection ended: walk FIN, FIN-ACK, ACK so the entry goes to TIME_WAIT and then ages out. */
  closed(flow: FlowRequest, _d: Extract<Decision, { kind: 'forward' }>): void {
    const dp = this.dp;
    if (!dp || flow.protocol !== 'TCP') return;
    const name = flow.entryNode;
    let node: KernelNode;
    try {
      node = dp.node(name);
    } catch {
      return; // the node went away with a reload
    }
    const env = this.walkEnv();
    const { client, destination } = flow;
    const fin = this.nextStep('tcp', client.ip, destination.ip, client.port, destination.port, FIN_ACK);
    // The entry's lookup is answered again, without hashing, by the FIN's own (tuple-index.ts).
    const found = node.conntrack.lookup(fin, env.now);
    if (found?.dir !== 'ORIGINAL') return;
    const reply = found.entry.reply;
    this.stepFrom(node, name, fin, env, flow.clientIsNodeProcess);
    this.stepFrom(node, name, this.replyStep(reply, FIN_ACK), env);
    const ack = this.nextStep('tcp', client.ip, destination.ip, client.port, destination.port, ACK);
    this.stepFrom(node, name, ack, env, flow.clientIsNodeProcess);
  }

  affinity(): AffinityEntry[] {
    const dp = this.dp;
    if (!dp || !this.snap) return [];
    const now = this.opts.clock.now();
    if (this.name === 'ipvs') return this.ipvsAffinity(dp, now);
    const out: AffinityEntry[] = [];
    for (const n of this.snap.nodes) {
      const recent = dp.node(n.meta.name).nf.recent;
      for (const name of recent.names()) {
        const owner = this.sepOwners.get(name);
        if (!owner) continue;
        for (const e of recent.list(name).list()) {
          const last = e.stamps.at(-1) ?? 0;
          const remainingMs = owner.seconds * 1000 - (now - last);
          if (remainingMs <= 0) continue;
          const clientIP = /^\d+$/.test(e.addr) ? v4(Number(e.addr)).text : e.addr;
          out.push({
            servicePort: owner.servicePort,
            clientIP,
            endpoint: owner.endpoint,
            remainingMs,
            timeoutSeconds: owner.seconds,
          });
        }
      }
    }
    return out.sort((a, b) => (a.servicePort + a.clientIP < b.servicePort + b.clientIP ? -1 : 1));
  }

  ipvsTables(): ReadonlyMap<string, IpvsTable> {
    const out = new Map<string, IpvsTable>();
    const dp = this.dp;
    if (dp)
      for (const name of dp.nodeNames()) {
        const t = dp.node(name).ipvs;
        if (t) out.set(name, t);
      }
    return out;
  }

  /** ipvs mode: ClientIP affinity is IPVS persistence; its templates are the affinity records. */
  private ipvsAffinity(dp: ClusterDatapath, now: number): AffinityEntry[] {
    const snap = this.snap!;
    const out: AffinityEntry[] = [];
    const byVip = new Map<string, { servicePort: string; seconds: number }>();
    for (const n of snap.nodes)
      for (const v of servicePortViews(snap, n.meta.name)) {
        if (v.affinitySeconds === null) continue;
        const key = `${v.protocol}/${joinHostPort(v.clusterIP, v.port)}`;
        byVip.set(key, { servicePort: v.name, seconds: v.affinitySeconds });
      }
    for (const name of dp.nodeNames()) {
      const table = dp.node(name).ipvs;
      if (!table) continue;
      for (const c of table.conns.list()) {
        if (!c.template) continue;
        const owner = byVip.get(`${c.protocol}/${joinHostPort(c.vaddr, c.vport)}`);
        const remainingMs = c.expiresAt - now;
        if (!owner || remainingMs <= 0) continue;
        out.push({
          servicePort: owner.servicePort,
          clientIP: c.caddr.text,
          endpoint: joinHostPort(c.daddr, c.dport),
          remainingMs,
          timeoutSeconds: owner.seconds,
        });
      }
    }
    return out.sort((a, b) => (a.servicePort + a.clientIP < b.servicePort + b.clientIP ? -1 : 1));
  }

  endpoints(): ModeEndpoints[] {
    const snap = this.snap;
    if (!snap) return [];
    const node = snap.nodes[0]?.meta.name ?? '';
    return servicePortViews(snap, node).map((v) => {
      const c = categorizeEndpoints(v);
      return {
        servicePort: v.name,
        protocol: v.protocol as Protocol,
        endpoints: c.clusterEndpoints.map((e) => e.text),
        sessionAffinity: v.affinitySeconds === null ? 'None' : 'ClientIP',
      };
    });
  }

  close(): void {
    this.dp = undefined;
  }
}
