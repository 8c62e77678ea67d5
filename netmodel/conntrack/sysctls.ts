/**
 * The conntrack sysctls of one node (net.netfilter.*), named exactly as `sysctl` names them, with
 * Linux's defaults. Timeouts are in seconds, as the sysctls are.
 */
import { ErrorCodes, KpathError } from '../errors.js';

export interface ConntrackSysctls {
  /** Table size limit. The kernel default scales with RAM; 262144 is what a typical host shows. */
  readonly nf_conntrack_max: number;
  /** 1: pick up TCP connections mid-stream (a non-SYN first packet creates an entry). */
  readonly nf_conntrack_tcp_loose: 0 | 1;
  /** 1: only out-of-window RSTs are INVALID. Kept for completeness: kpath does not track sequence numbers. */
  readonly nf_conntrack_tcp_be_liberal: 0 | 1;
  /** 1: per-entry packet and byte counters (decided when an entry is created). Default 0. */
  readonly nf_conntrack_acct: 0 | 1;
  readonly nf_conntrack_tcp_timeout_syn_sent: number; // 120 s
  readonly nf_conntrack_tcp_timeout_syn_recv: number; // 60 s
  readonly nf_conntrack_tcp_timeout_established: number; // 432000 s (5 days)
  readonly nf_conntrack_tcp_timeout_fin_wait: number; // 120 s
  readonly nf_conntrack_tcp_timeout_close_wait: number; // 60 s
  readonly nf_conntrack_tcp_timeout_last_ack: number; // 30 s
  readonly nf_conntrack_tcp_timeout_time_wait: number; // 120 s
  readonly nf_conntrack_tcp_timeout_close: number; // 10 s
  /** SYN_SENT2 (simultaneous open) has no sysctl of its own; it shares syn_sent's value (120 s). */
  readonly nf_conntrack_tcp_timeout_max_retrans: number; // 300 s
  readonly nf_conntrack_tcp_timeout_unacknowledged: number; // 300 s
  readonly nf_conntrack_tcp_max_retrans: number; // 3 packets
  /** UDP before a reply is seen, and for a replied flow younger than 2 s. */
  readonly nf_conntrack_udp_timeout: number; // 30 s
  /** UDP seen both ways and still active after 2 s (the entry becomes ASSURED). */
  readonly nf_conntrack_udp_timeout_stream: number; // 120 s
  readonly nf_conntrack_icmp_timeout: number; // 30 s
  readonly nf_conntrack_icmpv6_timeout: number; // 30 s
  /** Protocols without a tracker of their own (SCTP is tracked generically in kpath). */
  readonly nf_conntrack_generic_timeout: number; // 600 s
}

export const DEFAULT_CONNTRACK_SYSCTLS: ConntrackSysctls = Object.freeze({
  nf_conntrack_max: 262144,
  nf_conntrack_tcp_loose: 1,
  nf_conntrack_tcp_be_liberal: 0,
  nf_conntrack_acct: 0,
  nf_conntrack_tcp_timeout_syn_sent: 120,
  nf_conntrack_tcp_timeout_syn_recv: 60,
  nf_conntrack_tcp_timeout_established: 432000,
  nf_conntrack_tcp_timeout_fin_wait: 120,
  nf_conntrack_tcp_timeout_close_wait: 60,
  nf_conntrack_tcp_timeout_last_ack: 30,
  nf_conntrack_tcp_timeout_time_wait: 120,
  nf_conntrack_tcp_timeout_close: 10,
  nf_conntrack_tcp_timeout_max_retrans: 300,
  nf_conntrack_tcp_timeout_unacknowledged: 300,
  nf_conntrack_tcp_max_retrans: 3,
  nf_conntrack_udp_timeout: 30,
  nf_conntrack_udp_timeout_stream: 120,
  nf_conntrack_icmp_timeout: 30,
  nf_conntrack_icmpv6_timeout: 30,
  nf_conntrack_generic_timeout: 600,
});

/** Defaults overridden by `overrides`, validated once and frozen. */
export function conntrackSysctls(overrides: Partial<ConntrackSysctls> = {}): ConntrackSysctls {
  const s = { ...DEFAULT_CONNTRACK_SYSCTLS, ...overrides };
  for (const [name, value] of Object.entries(s)) {
    if (!Number.isInteger(value) || value < 0) {
      throw new KpathError(
        ErrorCodes.INVALID,
        `net.netfilter.${name} must be a non-negative integer (got ${value})`,
      );
    }
  }
  for (const name of [
    'nf_conntrack_tcp_loose',
    'nf_conntrack_tcp_be_liberal',
    'nf_conntrack_acct',
  ] as const) {
    if (s[name] !== 0 && s[name] !== 1) {
      throw new KpathError(ErrorCodes.INVALID, `net.netfilter.${name} must be 0 or 1 (got ${s[name]})`);
    }
  }
  return Object.freeze(s);
}
