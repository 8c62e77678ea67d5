/**
 * Conntrack status bits (enum ip_conntrack_status, include/uapi/linux/netfilter/nf_conntrack_common.h)
 * and the packet-level conntrack state the `conntrack`/`state` matches test.
 */
export const CtStatus = {
  EXPECTED: 1 << 0,
  SEEN_REPLY: 1 << 1,
  ASSURED: 1 << 2,
  CONFIRMED: 1 << 3,
  SRC_NAT: 1 << 4,
  DST_NAT: 1 << 5,
  SEQ_ADJUST: 1 << 6,
  SRC_NAT_DONE: 1 << 7,
  DST_NAT_DONE: 1 << 8,
  DYING: 1 << 9,
  FIXED_TIMEOUT: 1 << 10,
  TEMPLATE: 1 << 11,
  NAT_CLASH: 1 << 12,
  HELPER: 1 << 13,
  OFFLOAD: 1 << 14,
  HW_OFFLOAD: 1 << 15,
} as const;

export type CtStatusName = keyof typeof CtStatus;

/** IPS_NAT_MASK. */
export const CT_NAT_MASK = CtStatus.SRC_NAT | CtStatus.DST_NAT;

/** The names of the bits set in `status`, lowest bit first. */
export function statusNames(status: number): CtStatusName[] {
  const out: CtStatusName[] = [];
  for (const [name, bit] of Object.entries(CtStatus) as [CtStatusName, number][]) {
    if (status & bit) out.push(name);
  }
  return out;
}

/** Direction of a packet relative to its entry (IP_CT_DIR_ORIGINAL / IP_CT_DIR_REPLY). */
export type CtDirection = 'ORIGINAL' | 'REPLY';

/** `-m conntrack --ctstate` / `-m state --state` values of a packet. */
export type CtState = 'NEW' | 'ESTABLISHED' | 'RELATED' | 'INVALID' | 'UNTRACKED';

/** enum ip_conntrack_info: the state and direction in one value. */
export type CtInfo = 'NEW' | 'ESTABLISHED' | 'RELATED' | 'ESTABLISHED_REPLY' | 'RELATED_REPLY';

export function ctinfoState(info: CtInfo): CtState {
  switch (info) {
    case 'NEW':
      return 'NEW';
    case 'ESTABLISHED':
    case 'ESTABLISHED_REPLY':
      return 'ESTABLISHED';
    case 'RELATED':
    case 'RELATED_REPLY':
      return 'RELATED';
  }
}
