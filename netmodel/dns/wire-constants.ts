/** DNS wire constants (RFC 1035, 3596, 2782, 6891, 8482): the numbers kpath's DNS code speaks. */

export const RRType = {
  A: 1,
  NS: 2,
  CNAME: 5,
  SOA: 6,
  PTR: 12,
  HINFO: 13,
  MX: 15,
  TXT: 16,
  AAAA: 28,
  SRV: 33,
  OPT: 41,
  IXFR: 251,
  AXFR: 252,
  ANY: 255,
  CAA: 257,
} as const;

export const RRClass = { IN: 1, CH: 3, HS: 4, NONE: 254, ANY: 255 } as const;

export const Rcode = {
  NOERROR: 0,
  FORMERR: 1,
  SERVFAIL: 2,
  NXDOMAIN: 3,
  NOTIMP: 4,
  REFUSED: 5,
  /** Extended rcode 16, carried as 1 in the OPT's upper bits (RFC 6891). */
  BADVERS: 16,
} as const;

export const Opcode = { QUERY: 0, IQUERY: 1, STATUS: 2, NOTIFY: 4, UPDATE: 5 } as const;

/** Header flag bits in the 16-bit flags word. */
export const Flag = {
  QR: 0x8000,
  AA: 0x0400,
  TC: 0x0200,
  RD: 0x0100,
  RA: 0x0080,
  AD: 0x0020,
  CD: 0x0010,
} as const;

export const HEADER_LEN = 12;
/** UDP payload limit without EDNS (RFC 1035 4.2.1). */
export const UDP_DEFAULT_SIZE = 512;
/** The EDNS buffer size kpath advertises when it is the one asking (DNS flag day 2020). */
export const EDNS_SIZE = 1232;
/** Largest message over TCP (2-byte length prefix). */
export const TCP_MAX_SIZE = 65535;
/** An OPT RR with no options: root name (1), type, class, ttl, rdlength. */
export const OPT_LEN = 11;

const TYPE_NAMES: Record<number, string> = {};
for (const [k, v] of Object.entries(RRType)) TYPE_NAMES[v] = k;
const RCODE_NAMES: Record<number, string> = {};
for (const [k, v] of Object.entries(Rcode)) RCODE_NAMES[v] = k;
const OPCODE_NAMES: Record<number, string> = {};
for (const [k, v] of Object.entries(Opcode)) OPCODE_NAMES[v] = k;
const CLASS_NAMES: Record<number, string> = { 1: 'IN', 3: 'CH', 4: 'HS', 254: 'NONE', 255: 'ANY' };

/** `A`, `SRV`, ... or RFC 3597's `TYPE123`. */
export function typeName(t: number): string {
  return TYPE_NAMES[t] ?? `TYPE${t}`;
}

export function className(c: number): string {
  return CLASS_NAMES[c] ?? `CLASS${c}`;
}

export function rcodeName(r: number): string {
  return RCODE_NAMES[r] ?? `RCODE${r}`;
}

export function opcodeName(o: number): string {
  return OPCODE_NAMES[o] ?? `OPCODE${o}`;
}

/** Parse `A`, `aaaa`, `TYPE65`; undefined when unknown. */
export function parseTypeName(text: string): number | undefined {
  const up = text.toUpperCase();
  const known = (RRType as Record<string, number>)[up];
  if (known !== undefined) return known;
  const m = /^TYPE(\d{1,5})$/.exec(up);
  if (m && Number(m[1]) <= 65535) return Number(m[1]);
  return undefined;
}
