/** IP protocol names as iptables-save prints them (its built-in list, then /etc/protocols names). */
const BY_NUMBER: ReadonlyMap<number, string> = new Map([
  [1, 'icmp'],
  [2, 'igmp'],
  [4, 'ipencap'],
  [6, 'tcp'],
  [17, 'udp'],
  [41, 'ipv6'],
  [47, 'gre'],
  [50, 'esp'],
  [51, 'ah'],
  [58, 'ipv6-icmp'],
  [132, 'sctp'],
  [135, 'mh'],
  [136, 'udplite'],
]);

const BY_NAME: ReadonlyMap<string, number> = new Map([
  ...[...BY_NUMBER].map(([n, s]) => [s, n] as const),
  ['all', 0],
  ['icmpv6', 58],
  ['ipv6-icmp', 58],
]);

export function protoName(n: number): string {
  return BY_NUMBER.get(n) ?? String(n);
}

/** A protocol name (case-insensitive) or number; undefined if unknown. */
export function parseProto(s: string): number | undefined {
  const byName = BY_NAME.get(s.toLowerCase());
  if (byName !== undefined) return byName;
  if (/^\d{1,3}$/.test(s) && Number(s) <= 255) return Number(s);
  return undefined;
}
