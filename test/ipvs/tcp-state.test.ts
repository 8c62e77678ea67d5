/**
 * IPVS's TCP state table and timeouts (netmodel/ipvs/tcp-state.ts) against the kernel's
 * (net/netfilter/ipvs/ip_vs_proto_tcp.c: tcp_states, the normal table, and tcp_timeouts): every
 * state as a current state, through rows whose columns tell all eleven apart. (The INPUT ack row's
 * NONE column is left out: kernels differ there, sES in older trees and sCL in newer ones; IPVS
 * makes a TCP connection only from a SYN, so no NONE entry sees an ACK first.)
 */
import { describe, expect, it } from 'vitest';
import {
  DEFAULT_TCP_TIMEOUTS,
  IPVS_TCP_STATES,
  type IpvsTcpState,
  ipvsTcpNext,
  tcpTimeoutOf,
} from '../../netmodel/ipvs/tcp-state.js';

const f = (s: string) => ({ syn: s === 'syn', fin: s === 'fin', ack: s === 'ack', rst: s === 'rst' });

// Columns sNO sES sSS sSR sFW sTW sCL sCW sLA sLI sSA, as ip_vs_proto_tcp.c writes them.
const KERNEL: Record<string, readonly string[]> = {
  'INPUT fin': ['sCL', 'sCW', 'sSS', 'sTW', 'sTW', 'sTW', 'sCL', 'sCW', 'sLA', 'sLI', 'sTW'],
  'OUTPUT ack': ['sES', 'sES', 'sSS', 'sES', 'sFW', 'sTW', 'sCL', 'sCW', 'sLA', 'sES', 'sES'],
  'OUTPUT syn': ['sSS', 'sES', 'sSS', 'sSR', 'sSS', 'sSS', 'sSS', 'sSS', 'sSS', 'sLI', 'sSR'],
  'OUTPUT fin': ['sTW', 'sFW', 'sSS', 'sTW', 'sFW', 'sTW', 'sCL', 'sTW', 'sLA', 'sLI', 'sTW'],
  'INPUT_ONLY rst': ['sCL', 'sCL', 'sCL', 'sSR', 'sCL', 'sCL', 'sCL', 'sCL', 'sLA', 'sLI', 'sCL'],
};
const NAME: Record<string, IpvsTcpState> = {
  sNO: 'NONE',
  sES: 'ESTABLISHED',
  sSS: 'SYN_SENT',
  sSR: 'SYN_RECV',
  sFW: 'FIN_WAIT',
  sTW: 'TIME_WAIT',
  sCL: 'CLOSE',
  sCW: 'CLOSE_WAIT',
  sLA: 'LAST_ACK',
  sLI: 'LISTEN',
  sSA: 'SYNACK',
};

describe('IPVS TCP states', () => {
  it('moves every current state as the kernel table does', () => {
    for (const [row, cols] of Object.entries(KERNEL)) {
      const [dir, flag] = row.split(' ') as ['INPUT' | 'OUTPUT' | 'INPUT_ONLY', string];
      const got = IPVS_TCP_STATES.map((s) => ipvsTcpNext(s, dir, f(flag!)));
      expect(got, row).toEqual(cols.map((c) => NAME[c]));
    }
    // The columns tell the states apart: no two states give the same answers in all these rows.
    const sig = IPVS_TCP_STATES.map((_, i) =>
      Object.values(KERNEL)
        .map((c) => c[i])
        .join(),
    );
    expect(new Set(sig).size).toBe(IPVS_TCP_STATES.length);
  });

  it('reads each state timeout by name (tcp_timeouts)', () => {
    for (const s of IPVS_TCP_STATES)
      expect(tcpTimeoutOf(DEFAULT_TCP_TIMEOUTS, s)).toBe(DEFAULT_TCP_TIMEOUTS[s]);
    expect([
      tcpTimeoutOf(DEFAULT_TCP_TIMEOUTS, 'ESTABLISHED'),
      tcpTimeoutOf(DEFAULT_TCP_TIMEOUTS, 'TIME_WAIT'),
    ]).toEqual([900, 120]);
  });
});
