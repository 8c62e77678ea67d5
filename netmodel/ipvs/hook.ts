/**
 * IPVS on the netfilter hooks, for the walker (ip_vs_core.c ip_vs_ops4). One call per hook the
 * walker passes; the walker records the result as a stage and acts on it:
 *
 *   LOCAL_IN   ip_vs_reply4 (NF_IP_PRI_NAT_SRC - 2 = 98): replies to connections of local clients,
 *              then ip_vs_remote_request4 (NAT_SRC - 1 = 99): requests from elsewhere. After filter
 *              INPUT, before nat INPUT and conntrack confirm.
 *   LOCAL_OUT  ip_vs_local_reply4 (NF_IP_PRI_NAT_DST + 1 = -99): replies of local real servers,
 *              then ip_vs_local_request4 (NAT_DST + 2 = -98): requests from local clients. After nat
 *              OUTPUT, before filter OUTPUT.
 *   FORWARD    ip_vs_reply4 (NF_IP_PRI_NAT_SRC = 100): replies routed through the node. After
 *              filter FORWARD.
 *
 * A request that IPVS takes comes back as `xmit`: the packet DNATed to the real server, which the
 * kernel (ip_vs_nat_xmit / ip_vs_nat_send_or_cont) routes to the real server and sends through
 * LOCAL_OUT again (the original is stolen), or lets go on in the current hook when the real server
 * is a local address. With net.ipv4.vs.conntrack the packet keeps its conntrack entry, whose reply
 * tuple is changed to come from the real server (ip_vs_nfct.c ip_vs_update_conntrack, only while
 * the entry is unconfirmed), so nat POSTROUTING (kube-proxy's MASQUERADE) still runs and replies
 * find the entry; without it the packet goes on untracked (ip_vs_notrack).
 */
import type { ConntrackTable } from '../conntrack/index.js';
import type { Packet } from '../packet.js';
import {
  EXPLAIN_ALL,
  EXPLAIN_FACTS,
  EXPLAIN_NONE,
  type IpvsDrop,
  type IpvsPass,
  type IpvsReply,
  type IpvsXmit,
  ipvsInAt,
  ipvsOutAt,
} from './process.js';
import type { IpvsTable } from './table.js';

export type IpvsHookName = 'LOCAL_IN' | 'LOCAL_OUT' | 'FORWARD';

export type IpvsHookResult =
  /** IPVS did nothing; the packet goes on unchanged. */
  | IpvsPass
  /** A reply un-NATed (source back to the virtual address); the packet goes on. */
  | IpvsReply
  /** A request for a virtual service: forward `packet` to the real server. */
  | IpvsXmit
  /** IPVS drops the packet (NF_DROP), answering ICMP port unreachable when no real server is left. */
  | IpvsDrop;

export interface IpvsHookOptions {
  /** The packet's conntrack entry was there before it (not created by this packet). */
  readonly oldConntrack?: boolean;
  /** Build the explanation's sentences (default true). */
  readonly explain?: boolean;
  /**
   * The caller reads only the packet, the connection and the verdict, at once (the walker's walks
   * that record no stages): no explanation at all (the result's is an empty shared one; a scheduler
   * with Scheduler.pick builds none either), and the result itself is a shared object valid until
   * the next lean call.
   */
  readonly lean?: boolean;
  /** Nothing else holds `p`: IPVS's NAT is written into it instead of a copy (packet.ts). */
  readonly owned?: boolean;
  /** A tracer enumerating every path chooses among the real servers (IpvsInOptions.choose). */
  readonly choose?: (weights: readonly number[]) => number;
}

/**
 * Run IPVS's functions on one hook, in priority order, for a packet entering the node at `now`: the
 * timers due by then have run (ipvsTimers, which the walker calls once per walk), so this does only
 * the per-packet work, and builds no result of its own (ipvsInAt's and ipvsOutAt's are the hook's).
 */
export function ipvsHook(
  table: IpvsTable,
  hook: IpvsHookName,
  p: Packet,
  now: number,
  opts: IpvsHookOptions = {},
): IpvsHookResult {
  const explain = opts.explain !== false;
  const owned = opts.owned === true;
  const lean = opts.lean === true;
  const out = ipvsOutAt(table, p, now, explain, owned, lean);
  if (out.kind === 'reply' || hook === 'FORWARD') return out;
  const level = explain ? EXPLAIN_ALL : lean ? EXPLAIN_NONE : EXPLAIN_FACTS;
  return ipvsInAt(table, p, now, opts.oldConntrack === true, level, opts.choose, owned);
}

/**
 * IPVS's connection timers up to `now`, run before a packet enters the node (in the kernel they
 * fire on their own): an expired connection made with net.ipv4.vs.conntrack also takes its
 * conntrack entry with it (ip_vs_conn_expire -> ip_vs_conn_drop_conntrack), also those that expired
 * while something else (a listing) ran the timers. Returns how many conntrack drops were due.
 */
export function ipvsTimers(table: IpvsTable, conntrack: ConntrackTable, now: number): number {
  table.expire(now);
  if (table.conntrackDrops.length === 0) return 0; // the usual case: no array per walk
  const gone = table.conntrackDrops.splice(0);
  for (const c of gone) {
    conntrack.deleteTuple(
      {
        family: c.caddr.family,
        proto: c.protocol === 'TCP' ? 'tcp' : c.protocol === 'UDP' ? 'udp' : 'sctp',
        src: c.caddr,
        sport: c.cport,
        dst: c.vaddr,
        dport: c.vport,
      },
      now,
    );
  }
  return gone.length;
}
