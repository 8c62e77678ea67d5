/** Builders over literals for netfilter tests. */
import { parseIP } from '../../netmodel/addr.js';
import type { CtView, EvalContext, Ruleset } from '../../netmodel/netfilter/index.js';
import {
  emptyRuleset,
  IpSetStore,
  loadRestore,
  NetfilterState,
  NfAcct,
  RecentTables,
} from '../../netmodel/netfilter/index.js';
import type { Packet, TcpFlags } from '../../netmodel/packet.js';
import { packet, SYN } from '../../netmodel/packet.js';
import { SeededRng } from '../../netmodel/rng.js';

function hostPort(s: string): { ip: string; port: number } {
  const i = s.lastIndexOf(':');
  return i < 0 || (s.startsWith('[') === false && s.split(':').length > 2)
    ? { ip: s, port: 0 }
    : { ip: s.slice(0, i).replace(/^\[|\]$/g, ''), port: Number(s.slice(i + 1)) };
}

export function tcp(
  from: string,
  to: string,
  extra: { flags?: TcpFlags; mark?: number; iif?: string; oif?: string; length?: number } = {},
): Packet {
  const a = hostPort(from);
  const b = hostPort(to);
  return packet({
    proto: 'tcp',
    src: parseIP(a.ip),
    dst: parseIP(b.ip),
    sport: a.port,
    dport: b.port,
    tcp: extra.flags ?? SYN,
    ...(extra.mark !== undefined ? { mark: extra.mark } : {}),
    ...(extra.iif !== undefined ? { iif: extra.iif } : {}),
    ...(extra.oif !== undefined ? { oif: extra.oif } : {}),
    ...(extra.length !== undefined ? { length: extra.length } : {}),
  });
}

export function udp(from: string, to: string): Packet {
  const a = hostPort(from);
  const b = hostPort(to);
  return packet({ proto: 'udp', src: parseIP(a.ip), dst: parseIP(b.ip), sport: a.port, dport: b.port });
}

export function icmp(from: string, to: string, type = 8, code = 0): Packet {
  return packet({ proto: 'icmp', src: parseIP(from), dst: parseIP(to), icmp: { type, code, id: 1 } });
}

/** A ruleset from restore text; `body` lines go in one table with the given chains declared. */
export function rules(table: string, chains: string[], body: string[], family: 4 | 6 = 4): Ruleset {
  const text = [`*${table}`, ...chains.map((c) => `:${c} - [0:0]`), ...body, 'COMMIT', ''].join('\n');
  return loadRestore(emptyRuleset(family), text);
}

export function newState(): NetfilterState {
  return new NetfilterState(new RecentTables(), new IpSetStore(), new NfAcct());
}

export function ctx(over: Partial<EvalContext> = {}): EvalContext {
  return { now: 0, rng: new SeededRng(1), state: newState(), ct: NEW_CT, ...over };
}

export const NEW_CT: CtView = { state: 'NEW', status: 0, mark: 0 };
