/**
 * The TCP conntrack state machine (nf_conntrack_proto_tcp.c `tcp_conntracks`), driven by the flags
 * of each packet and its direction. Sequence-number window tracking is not modelled: kpath packets
 * carry flags, not sequence numbers, so every packet counts as in window.
 */
import type { TcpFlags } from '../packet.js';
import type { CtDirection } from './status.js';
import type { ConntrackSysctls } from './sysctls.js';

export type TcpState =
  | 'NONE'
  | 'SYN_SENT'
  | 'SYN_RECV'
  | 'ESTABLISHED'
  | 'FIN_WAIT'
  | 'CLOSE_WAIT'
  | 'LAST_ACK'
  | 'TIME_WAIT'
  | 'CLOSE'
  | 'SYN_SENT2';

/** Kernel order of the states (enum tcp_conntrack); the table columns follow it. */
export const TCP_STATES: readonly TcpState[] = [
  'NONE',
  'SYN_SENT',
  'SYN_RECV',
  'ESTABLISHED',
  'FIN_WAIT',
  'CLOSE_WAIT',
  'LAST_ACK',
  'TIME_WAIT',
  'CLOSE',
  'SYN_SENT2',
];

/** Which flag set a segment belongs to (get_conntrack_index). */
export type TcpFlagIndex = 'SYN' | 'SYNACK' | 'FIN' | 'ACK' | 'RST' | 'NONE';

export function tcpFlagIndex(f: TcpFlags): TcpFlagIndex {
  if (f.rst) return 'RST';
  if (f.syn) return f.ack ? 'SYNACK' : 'SYN';
  if (f.fin) return 'FIN';
  if (f.ack) return 'ACK';
  return 'NONE';
}

/**
 * tcp_valid_flags: SYN, SYN+ACK, RST, RST+ACK, FIN+ACK and ACK (PSH/URG/ECE/CWR aside). Anything
 * else is INVALID before the state machine runs ("invalid tcp flag combination").
 */
export function tcpFlagsValid(f: TcpFlags): boolean {
  if (f.syn) return !f.fin && !f.rst;
  if (f.rst) return !f.fin;
  if (f.fin) return f.ack;
  return f.ack;
}

/** A cell of the table: a next state, IV (invalid) or IG (ignored, entry left as is). */
export type TcpNext = TcpState | 'IV' | 'IG';

type Row = readonly TcpNext[];

const sSS = 'SYN_SENT';
const sSR = 'SYN_RECV';
const sES = 'ESTABLISHED';
const sFW = 'FIN_WAIT';
const sCW = 'CLOSE_WAIT';
const sLA = 'LAST_ACK';
const sTW = 'TIME_WAIT';
const sCL = 'CLOSE';
const sS2 = 'SYN_SENT2';
const sIV = 'IV';
const sIG = 'IG';

// Columns:            sNO  sSS  sSR  sES  sFW  sCW  sLA  sTW  sCL  sS2
const ORIGINAL: Readonly<Record<TcpFlagIndex, Row>> = {
  SYN: [sSS, sSS, sIG, sIG, sIG, sIG, sIG, sSS, sSS, sS2],
  SYNACK: [sIV, sIV, sSR, sIV, sIV, sIV, sIV, sIV, sIV, sSR],
  FIN: [sIV, sIV, sFW, sFW, sLA, sLA, sLA, sTW, sCL, sIV],
  ACK: [sES, sIV, sES, sES, sCW, sCW, sTW, sTW, sCL, sIV],
  RST: [sIV, sCL, sCL, sCL, sCL, sCL, sCL, sCL, sCL, sCL],
  NONE: [sIV, sIV, sIV, sIV, sIV, sIV, sIV, sIV, sIV, sIV],
};

const REPLY: Readonly<Record<TcpFlagIndex, Row>> = {
  SYN: [sIV, sS2, sIV, sIV, sIV, sIV, sIV, sSS, sIV, sS2],
  SYNACK: [sIV, sSR, sIG, sIG, sIG, sIG, sIG, sIG, sIG, sSR],
  FIN: [sIV, sIV, sFW, sFW, sLA, sLA, sLA, sTW, sCL, sIV],
  ACK: [sIV, sIG, sSR, sES, sCW, sCW, sTW, sTW, sCL, sIG],
  RST: [sIV, sCL, sCL, sCL, sCL, sCL, sCL, sCL, sCL, sCL],
  NONE: [sIV, sIV, sIV, sIV, sIV, sIV, sIV, sIV, sIV, sIV],
};

/** One cell of Linux's table: where a segment takes the connection. */
export function tcpTableNext(dir: CtDirection, index: TcpFlagIndex, state: TcpState): TcpNext {
  const row = (dir === 'ORIGINAL' ? ORIGINAL : REPLY)[index];
  return row[TCP_STATES.indexOf(state)]!;
}

export function tcpStateOrder(s: TcpState): number {
  return TCP_STATES.indexOf(s);
}

/** The timeout of a state, seconds, from the node's sysctls. */
export function tcpStateTimeout(s: TcpState, sys: ConntrackSysctls): number {
  switch (s) {
    case 'SYN_SENT':
    case 'SYN_SENT2':
      return sys.nf_conntrack_tcp_timeout_syn_sent;
    case 'SYN_RECV':
      return sys.nf_conntrack_tcp_timeout_syn_recv;
    case 'ESTABLISHED':
      return sys.nf_conntrack_tcp_timeout_established;
    case 'FIN_WAIT':
      return sys.nf_conntrack_tcp_timeout_fin_wait;
    case 'CLOSE_WAIT':
      return sys.nf_conntrack_tcp_timeout_close_wait;
    case 'LAST_ACK':
      return sys.nf_conntrack_tcp_timeout_last_ack;
    case 'TIME_WAIT':
      return sys.nf_conntrack_tcp_timeout_time_wait;
    case 'CLOSE':
      return sys.nf_conntrack_tcp_timeout_close;
    case 'NONE':
      return sys.nf_conntrack_tcp_timeout_syn_sent;
  }
}

/** States whose entries the kernel may evict first under pressure (tcp_can_early_drop). */
export function tcpCanEarlyDrop(s: TcpState): boolean {
  return s === 'FIN_WAIT' || s === 'LAST_ACK' || s === 'TIME_WAIT' || s === 'CLOSE' || s === 'CLOSE_WAIT';
}
