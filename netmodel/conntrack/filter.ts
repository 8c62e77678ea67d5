/**
 * `conntrack -D` / `-L` filters: what kube-proxy and Docker delete by (`-p udp --orig-dst IP`,
 * `--reply-src IP`, `--dport N`). Every field given must match.
 */
import type { Family, IP } from '../addr.js';
import { ipEquals } from '../addr.js';
import type { L4Proto } from '../packet.js';
import type { ConntrackEntryView } from './entry.js';
import type { TcpState } from './tcp.js';

export interface ConntrackFilter {
  /** -f ipv4|ipv6 */
  readonly family?: Family;
  /** -p */
  readonly proto?: L4Proto;
  /** -s / --orig-src */
  readonly origSrc?: IP;
  /** -d / --orig-dst */
  readonly origDst?: IP;
  /** -r / --reply-src */
  readonly replySrc?: IP;
  /** -q / --reply-dst */
  readonly replyDst?: IP;
  /** --sport / --orig-port-src */
  readonly origSport?: number;
  /** --dport / --orig-port-dst */
  readonly origDport?: number;
  /** --reply-port-src */
  readonly replySport?: number;
  /** --reply-port-dst */
  readonly replyDport?: number;
  /** -m value[/mask] */
  readonly mark?: { readonly value: number; readonly mask?: number };
  /** -u: every one of these status bits set */
  readonly status?: number;
  /** --state (TCP) */
  readonly tcpState?: TcpState;
}

export function matchesFilter(e: ConntrackEntryView, f: ConntrackFilter): boolean {
  const o = e.original;
  const r = e.reply;
  if (f.family !== undefined && o.family !== f.family) return false;
  if (f.proto !== undefined && o.proto !== f.proto) return false;
  if (f.origSrc && !ipEquals(o.src, f.origSrc)) return false;
  if (f.origDst && !ipEquals(o.dst, f.origDst)) return false;
  if (f.replySrc && !ipEquals(r.src, f.replySrc)) return false;
  if (f.replyDst && !ipEquals(r.dst, f.replyDst)) return false;
  if (f.origSport !== undefined && o.sport !== f.origSport) return false;
  if (f.origDport !== undefined && o.dport !== f.origDport) return false;
  if (f.replySport !== undefined && r.sport !== f.replySport) return false;
  if (f.replyDport !== undefined && r.dport !== f.replyDport) return false;
  if (f.mark) {
    const mask = f.mark.mask ?? 0xffffffff;
    if ((e.mark & mask) >>> 0 !== (f.mark.value & mask) >>> 0) return false;
  }
  if (f.status !== undefined && (e.status & f.status) !== f.status) return false;
  if (f.tcpState !== undefined && e.tcpState !== f.tcpState) return false;
  return true;
}
