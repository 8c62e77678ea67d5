/** What happened to a packet on one node: the stages it went through and where it ended. Values, never exceptions. */
import type { IP } from '../addr.js';
import type { ConntrackEntryView, CtDirection } from '../conntrack/index.js';
import type { IpvsConnView, IpvsExplanation } from '../ipvs/index.js';
import type {
  BuiltinChain,
  LogLine,
  NatRequest,
  RejectWith,
  TableName,
  TraceEntry,
  Verdict,
} from '../netfilter/index.js';
import type { Packet } from '../packet.js';

export type Stage =
  /** One iptables table on one hook. */
  | {
      readonly kind: 'table';
      readonly hook: BuiltinChain;
      readonly table: TableName;
      readonly verdict: Verdict;
      readonly byPolicy: boolean;
      readonly before: Packet;
      readonly after: Packet;
      readonly nat?: NatRequest;
      /** Chains entered and rules matched (empty unless tracing). */
      readonly trace: readonly TraceEntry[];
      readonly logs: readonly LogLine[];
    }
  /** A nat table skipped because the packet is not the first of its connection. */
  | { readonly kind: 'nat-skipped'; readonly hook: BuiltinChain; readonly reason: string }
  /** Conntrack lookup (PREROUTING/OUTPUT). */
  | {
      readonly kind: 'conntrack';
      readonly hook: BuiltinChain;
      readonly state: 'NEW' | 'ESTABLISHED' | 'RELATED' | 'INVALID' | 'UNTRACKED';
      readonly dir?: CtDirection;
      readonly created: boolean;
      readonly entryId?: number;
      readonly note?: string;
    }
  /** NAT applied to the packet (a new binding or one from the conntrack entry). */
  | {
      readonly kind: 'nat';
      readonly hook: BuiltinChain;
      readonly manip: 'SRC' | 'DST';
      readonly binding: 'new' | 'existing' | 'null';
      readonly before: Packet;
      readonly after: Packet;
      /** How the binding was found, when it took more than a free port (a closing entry evicted). */
      readonly note?: string;
    }
  /** A routing decision. */
  | { readonly kind: 'route'; readonly decision: string; readonly dev?: string; readonly nextHop?: IP }
  /** Conntrack confirm (INPUT/POSTROUTING). */
  | { readonly kind: 'confirm'; readonly hook: BuiltinChain; readonly ok: boolean; readonly note?: string }
  /**
   * IPVS on INPUT (LOCAL_IN), OUTPUT (LOCAL_OUT) or FORWARD: a request scheduled or sent on along
   * its connection (DNAT to the real server), a reply un-NATed, or a drop. `lines` say why.
   */
  | {
      readonly kind: 'ipvs';
      readonly hook: BuiltinChain;
      readonly action: 'scheduled' | 'existing' | 'reply' | 'drop';
      readonly before: Packet;
      readonly after: Packet;
      readonly lines: readonly string[];
      readonly conn?: IpvsConnView;
      readonly explanation?: IpvsExplanation;
    };

export type Outcome =
  /** Handed to a local socket. */
  | { readonly kind: 'delivered'; readonly packet: Packet }
  /** Left the node on `dev` towards `nextHop` (forwarded, or locally generated). */
  | {
      readonly kind: 'sent';
      readonly dev: string;
      readonly nextHop: IP;
      readonly packet: Packet;
      readonly forwarded: boolean;
      /** Bridged (not routed): the bridge port the frame leaves on. */
      readonly bridgedTo?: string;
    }
  | {
      readonly kind: 'dropped';
      readonly reason: string;
      readonly hook?: BuiltinChain;
      readonly table?: TableName;
      /**
       * Too big for `dev` with DF set. Forwarded (ip_forward's MTU check, before FORWARD): the node
       * answers with ICMP fragmentation needed quoting `packet` as it arrived (after PREROUTING).
       * `local`: the sending socket's EMSGSIZE, before any hook.
       */
      readonly tooBig?: {
        readonly dev: string;
        readonly mtu: number;
        readonly packet: Packet;
        readonly local: boolean;
      };
    }
  | {
      readonly kind: 'rejected';
      readonly with: RejectWith;
      readonly hook: BuiltinChain;
      readonly table: TableName;
    }
  /** No route, or an unreachable/prohibit route: ICMP destination unreachable (or an errno locally). */
  | { readonly kind: 'unreachable'; readonly icmpCode: number; readonly reason: string };

export interface WalkResult {
  readonly outcome: Outcome;
  readonly stages: readonly Stage[];
  /** The packet as it entered the node. */
  readonly input: Packet;
  /** The packet's conntrack entry, if it has one. */
  readonly ct?: ConntrackEntryView;
  readonly ctDir?: CtDirection;
  /** netfilter's final verdict on this node. */
  readonly verdict: 'ACCEPT' | 'DROP' | 'REJECT';
  /** Destination after DNAT, when it changed. */
  readonly dnat?: { readonly ip: IP; readonly port: number };
  /** Source after SNAT/MASQUERADE, when it changed. */
  readonly snat?: { readonly ip: IP; readonly port: number };
  /**
   * IPVS took the packet (a virtual service request): its connection and why that real server (an
   * empty explanation when the walk recorded no stages: env.noStages).
   */
  readonly ipvs?: { readonly conn: IpvsConnView; readonly explanation: IpvsExplanation };
}
