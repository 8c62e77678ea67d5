/**
 * Where the tables sit on the netfilter hooks, for the packet walker. Functions on one hook run in
 * ascending priority (include/uapi/linux/netfilter_ipv4.h, NF_IP_PRI_*).
 */
import type { BuiltinChain, TableName } from './ruleset.js';

export const NF_IP_PRI = {
  RAW: -300,
  /** Conntrack lookup/creation: after raw (so NOTRACK works), before mangle. */
  CONNTRACK: -200,
  MANGLE: -150,
  NAT_DST: -100,
  FILTER: 0,
  SECURITY: 50,
  NAT_SRC: 100,
  /** Conntrack confirm: last on INPUT and POSTROUTING. */
  CONNTRACK_CONFIRM: 2147483647,
} as const;

export interface HookStep {
  readonly table: TableName;
  readonly priority: number;
}

/**
 * The iptables tables each hook runs, in order:
 *
 *   PREROUTING   raw(-300) -> [conntrack -200] -> mangle(-150) -> nat(-100, DNAT)
 *   INPUT        mangle(-150) -> filter(0) -> nat(100, SNAT on INPUT) -> [confirm]
 *   FORWARD      mangle(-150) -> filter(0)
 *   OUTPUT       raw(-300) -> [conntrack -200] -> mangle(-150) -> nat(-100, DNAT) -> filter(0)
 *   POSTROUTING  mangle(-150) -> nat(100, SNAT/MASQUERADE) -> [confirm]
 */
export const HOOK_ORDER: Readonly<Record<BuiltinChain, readonly HookStep[]>> = {
  PREROUTING: [
    { table: 'raw', priority: NF_IP_PRI.RAW },
    { table: 'mangle', priority: NF_IP_PRI.MANGLE },
    { table: 'nat', priority: NF_IP_PRI.NAT_DST },
  ],
  INPUT: [
    { table: 'mangle', priority: NF_IP_PRI.MANGLE },
    { table: 'filter', priority: NF_IP_PRI.FILTER },
    { table: 'nat', priority: NF_IP_PRI.NAT_SRC },
  ],
  FORWARD: [
    { table: 'mangle', priority: NF_IP_PRI.MANGLE },
    { table: 'filter', priority: NF_IP_PRI.FILTER },
  ],
  OUTPUT: [
    { table: 'raw', priority: NF_IP_PRI.RAW },
    { table: 'mangle', priority: NF_IP_PRI.MANGLE },
    { table: 'nat', priority: NF_IP_PRI.NAT_DST },
    { table: 'filter', priority: NF_IP_PRI.FILTER },
  ],
  POSTROUTING: [
    { table: 'mangle', priority: NF_IP_PRI.MANGLE },
    { table: 'nat', priority: NF_IP_PRI.NAT_SRC },
  ],
};

/**
 * The nat table is consulted only for the first packet of a connection (conntrack state NEW; also
 * RELATED). The chosen mapping is stored in the conntrack entry and applied to every later packet in
 * both directions without running nat chains again. `evaluate` does not enforce this: the walker
 * must skip the nat steps of HOOK_ORDER for packets that are not the first of their flow.
 */
export const NAT_FIRST_PACKET_ONLY =
  'nat chains see only the first packet of a connection; later packets reuse the mapping stored in conntrack (the walker enforces this)';
