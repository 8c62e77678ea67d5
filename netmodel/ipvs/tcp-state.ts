/**
 * IPVS's own TCP state machine (net/netfilter/ipvs/ip_vs_proto_tcp.c, the normal, non-secure_tcp
 * table) and its default timeouts. Separate from conntrack's: IPVS keeps its own per-connection
 * state to time out its connection entries and to count active/inactive connections.
 */

export const IPVS_TCP_STATES = [
  'NONE',
  'ESTABLISHED',
  'SYN_SENT',
  'SYN_RECV',
  'FIN_WAIT',
  'TIME_WAIT',
  'CLOSE',
  'CLOSE_WAIT',
  'LAST_ACK',
  'LISTEN',
  'SYNACK',
] as const;

export type IpvsTcpState = (typeof IPVS_TCP_STATES)[number];

/** tcp_timeouts[], seconds. */
export const DEFAULT_TCP_TIMEOUTS: Readonly<Record<IpvsTcpState, number>> = {
  NONE: 2,
  ESTABLISHED: 900,
  SYN_SENT: 120,
  SYN_RECV: 60,
  FIN_WAIT: 120,
  TIME_WAIT: 120,
  CLOSE: 10,
  CLOSE_WAIT: 60,
  LAST_ACK: 30,
  LISTEN: 120,
  SYNACK: 120,
};

/** udp_timeouts[IP_VS_UDP_S_NORMAL], seconds. */
export const DEFAULT_UDP_TIMEOUT = 300;

/** The timeout of a connection entry before its first packet sets a state (ip_vs_conn_new: 3 s). */
export const NEW_CONN_TIMEOUT_S = 3;

/** tcp_state_active_table: the states counted in activeconns. */
export function tcpStateActive(s: IpvsTcpState): boolean {
  return s === 'ESTABLISHED' || s === 'SYN_SENT' || s === 'SYN_RECV' || s === 'SYNACK';
}

export type TcpStateDir = 'INPUT' | 'OUTPUT' | 'INPUT_ONLY';

// Columns: NO ES SS SR FW TW CL CW LA LI SA (the current state); rows: syn fin ack rst.
// (NONE and SYNACK are never a next state in this table.)
const sES = 'ESTABLISHED';
const sSS = 'SYN_SENT';
const sSR = 'SYN_RECV';
const sFW = 'FIN_WAIT';
const sTW = 'TIME_WAIT';
const sCL = 'CLOSE';
const sCW = 'CLOSE_WAIT';
const sLA = 'LAST_ACK';
const sLI = 'LISTEN';

type Row = readonly IpvsTcpState[];

/**
 * A state's column in the table (IPVS_TCP_STATES order). A switch over the literals, not a keyed load
 * from an object by the state's name: that load site sees a dozen names, goes megamorphic in V8 and
 * took a stub-cache probe on every packet.
 */
function stateIndex(s: IpvsTcpState): number {
  switch (s) {
    case 'NONE':
      return 0;
    case 'ESTABLISHED':
      return 1;
    case 'SYN_SENT':
      return 2;
    case 'SYN_RECV':
      return 3;
    case 'FIN_WAIT':
      return 4;
    case 'TIME_WAIT':
      return 5;
    case 'CLOSE':
      return 6;
    case 'CLOSE_WAIT':
      return 7;
    case 'LAST_ACK':
      return 8;
    case 'LISTEN':
      return 9;
    case 'SYNACK':
      return 10;
  }
}
const TABLE: Readonly<Record<TcpStateDir, readonly [Row, Row, Row, Row]>> = {
  INPUT: [
    /* syn */ [sSR, sES, sES, sSR, sSR, sSR, sSR, sSR, sSR, sSR, sSR],
    /* fin */ [sCL, sCW, sSS, sTW, sTW, sTW, sCL, sCW, sLA, sLI, sTW],
    /* ack */ [sES, sES, sSS, sES, sFW, sTW, sCL, sCW, sCL, sLI, sES],
    /* rst */ [sCL, sCL, sCL, sSR, sCL, sCL, sCL, sCL, sLA, sLI, sSR],
  ],
  OUTPUT: [
    /* syn */ [sSS, sES, sSS, sSR, sSS, sSS, sSS, sSS, sSS, sLI, sSR],
    /* fin */ [sTW, sFW, sSS, sTW, sFW, sTW, sCL, sTW, sLA, sLI, sTW],
    /* ack */ [sES, sES, sSS, sES, sFW, sTW, sCL, sCW, sLA, sES, sES],
    /* rst */ [sCL, sCL, sSS, sCL, sCL, sTW, sCL, sCL, sCL, sCL, sCL],
  ],
  INPUT_ONLY: [
    /* syn */ [sSR, sES, sES, sSR, sSR, sSR, sSR, sSR, sSR, sSR, sSR],
    /* fin */ [sCL, sFW, sSS, sTW, sFW, sTW, sCL, sCW, sLA, sLI, sTW],
    /* ack */ [sES, sES, sSS, sES, sFW, sTW, sCL, sCW, sCL, sLI, sES],
    /* rst */ [sCL, sCL, sCL, sSR, sCL, sCL, sCL, sCL, sLA, sLI, sCL],
  ],
};

/**
 * The next state for a segment (tcp_state_idx: RST, then SYN, then FIN, then ACK decide the row; a
 * segment with none of them goes to CLOSE).
 */
export function ipvsTcpNext(
  state: IpvsTcpState,
  dir: TcpStateDir,
  flags: { syn: boolean; ack: boolean; fin: boolean; rst: boolean },
): IpvsTcpState {
  const idx = flags.rst ? 3 : flags.syn ? 0 : flags.fin ? 1 : flags.ack ? 2 : -1;
  if (idx < 0) return 'CLOSE';
  const rows = dir === 'INPUT' ? TABLE.INPUT : dir === 'OUTPUT' ? TABLE.OUTPUT : TABLE.INPUT_ONLY;
  return rows[idx as 0 | 1 | 2 | 3][stateIndex(state)]!;
}

/** A state's timeout from a table of them (tcp_timeouts), read by name without a keyed load (stateIndex). */
export function tcpTimeoutOf(t: Readonly<Record<IpvsTcpState, number>>, s: IpvsTcpState): number {
  switch (s) {
    case 'NONE':
      return t.NONE;
    case 'ESTABLISHED':
      return t.ESTABLISHED;
    case 'SYN_SENT':
      return t.SYN_SENT;
    case 'SYN_RECV':
      return t.SYN_RECV;
    case 'FIN_WAIT':
      return t.FIN_WAIT;
    case 'TIME_WAIT':
      return t.TIME_WAIT;
    case 'CLOSE':
      return t.CLOSE;
    case 'CLOSE_WAIT':
      return t.CLOSE_WAIT;
    case 'LAST_ACK':
      return t.LAST_ACK;
    case 'LISTEN':
      return t.LISTEN;
    case 'SYNACK':
      return t.SYNACK;
  }
}
