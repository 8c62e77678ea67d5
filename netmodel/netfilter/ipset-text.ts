/**
 * The ipset tool's text forms, over the emulated store: `ipset restore` input (create/add/del/flush/
 * destroy lines) loaded into an IpSetStore, and what `ipset save` and `ipset list` print (ipset 7.x on
 * a 5.x/6.x kernel). Facts checked against ipset v7.17 on Linux 6.18 in a network namespace:
 *
 * - save: `create NAME TYPE family inet hashsize 1024 maxelem 65536 bucketsize 12 initval 0x........`
 *   for hash types (`range A-B` for bitmap:port), then one `add NAME MEMBER` per member;
 * - members print as `IP`, `IP,proto:port`, `IP,proto:port,IP`, `IP,proto:port,NET` with a /32
 *   (/128) network printed as a bare address; bitmap:port members in ascending order;
 * - list: Name, Type, Revision, Header, Size in memory, References, Number of entries, Members, a
 *   blank line between sets.
 *
 * Not reproduced: the kernel draws `initval` at random and prints hash members in bucket order, which
 * follows from it; here initval is the set's option (0 unless given) and hash members print in the order
 * they were added. `Size in memory` assumes no two members share a hash bucket (exact for small sets
 * apart from collisions, which depend on the random initval).
 */
import { type Family, type IP, type Prefix, tryParseIP, tryParsePrefix } from '../addr.js';
import { ErrorCodes, KpathError } from '../errors.js';
import type { IpSet, IpSetElement, IpSetOptions, IpSetStore, IpSetType } from './ipset.js';

const TYPES: readonly IpSetType[] = [
  'hash:ip',
  'hash:ip,port',
  'hash:ip,port,ip',
  'hash:ip,port,net',
  'hash:net',
  'bitmap:port',
];

const PROTO_NUMBER: Readonly<Record<string, number>> = {
  icmp: 1,
  tcp: 6,
  udp: 17,
  icmpv6: 58,
  sctp: 132,
  udplite: 136,
};
const PROTO_NAME: Readonly<Record<number, string>> = {
  1: 'icmp',
  6: 'tcp',
  17: 'udp',
  58: 'ipv6-icmp',
  132: 'sctp',
  136: 'udplite',
};

function fail(line: number, msg: string): never {
  throw new KpathError(ErrorCodes.RULES, `ipset restore line ${line}: ${msg}`);
}

function parseProtoPort(text: string, line: number): { proto: number; port: number } {
  const colon = text.indexOf(':');
  const protoText = colon < 0 ? 'tcp' : text.slice(0, colon).toLowerCase();
  const portText = colon < 0 ? text : text.slice(colon + 1);
  const proto = PROTO_NUMBER[protoText];
  if (proto === undefined) fail(line, `unknown protocol "${protoText}" in "${text}"`);
  const port = Number(portText);
  if (!/^\d+$/.test(portText) || port > 65535) fail(line, `"${portText}" is not a port number`);
  return { proto, port };
}

function parseAddr(text: string, family: Family, line: number): IP {
  const ip = tryParseIP(text);
  if (!ip) fail(line, `"${text}" is not an IP address`);
  if (ip.family !== family) fail(line, `${text} is not an IPv${family} address (the set's family)`);
  return ip;
}

function parseNet(text: string, family: Family, line: number): Prefix {
  const withBits = text.includes('/') ? text : `${text}/${family === 4 ? 32 : 128}`;
  const p = tryParsePrefix(withBits, { strict: false });
  if (!p) fail(line, `"${text}" is not a network`);
  if (p.ip.family !== family) fail(line, `${text} is not an IPv${family} network (the set's family)`);
  if (p.bits === 0) fail(line, `${text}: a zero prefix length cannot be stored`);
  return p;
}

/** One member as `ipset add` writes it, for a set of `type` and `family`. */
export function parseIpsetMember(type: IpSetType, family: Family, text: string, line = 0): IpSetElement {
  const parts = text.split(',');
  const want =
    type === 'bitmap:port' || type === 'hash:ip' || type === 'hash:net' ? 1 : type === 'hash:ip,port' ? 2 : 3;
  if (parts.length !== want) fail(line, `"${text}" does not fit a ${type} set`);
  switch (type) {
    case 'hash:ip':
      return { ip: parseAddr(parts[0]!, family, line) };
    case 'hash:net':
      return { net: parseNet(parts[0]!, family, line) };
    case 'bitmap:port':
      return { port: parseProtoPort(parts[0]!, line).port };
    case 'hash:ip,port':
      return { ip: parseAddr(parts[0]!, family, line), ...parseProtoPort(parts[1]!, line) };
    case 'hash:ip,port,ip':
      return {
        ip: parseAddr(parts[0]!, family, line),
        ...parseProtoPort(parts[1]!, line),
        ip2: parseAddr(parts[2]!, family, line),
      };
    case 'hash:ip,port,net':
      return {
        ip: parseAddr(parts[0]!, family, line),
        ...parseProtoPort(parts[1]!, line),
        net: parseNet(parts[2]!, family, line),
      };
  }
}

function netText(p: Prefix): string {
  return p.bits === (p.ip.family === 4 ? 32 : 128) ? p.ip.text : p.text;
}

/** A member as `ipset save` / `ipset list` print it. */
export function ipsetMemberText(type: IpSetType, e: IpSetElement): string {
  const pp = () => `${PROTO_NAME[e.proto!] ?? String(e.proto)}:${e.port}`;
  switch (type) {
    case 'hash:ip':
      return e.ip!.text;
    case 'hash:net':
      return netText(e.net!);
    case 'bitmap:port':
      return String(e.port);
    case 'hash:ip,port':
      return `${e.ip!.text},${pp()}`;
    case 'hash:ip,port,ip':
      return `${e.ip!.text},${pp()},${e.ip2!.text}`;
    case 'hash:ip,port,net':
      return `${e.ip!.text},${pp()},${netText(e.net!)}`;
  }
}

function intOpt(v: string | undefined, what: string, line: number): number {
  if (v === undefined || !/^(0x[0-9a-fA-F]+|\d+)$/.test(v)) fail(line, `${what} needs a number`);
  return Number(v);
}

function parseCreate(
  args: string[],
  line: number,
): { name: string; type: IpSetType; family: Family; options: IpSetOptions; exist: boolean } {
  const [name, typeText, ...rest] = args;
  if (!name || !typeText) fail(line, 'create needs a set name and a type');
  const type = TYPES.find((t) => t === typeText);
  if (!type) fail(line, `unsupported set type "${typeText}" (supported: ${TYPES.join(', ')})`);
  let family: Family = 4;
  let exist = false;
  const o: {
    hashsize?: number;
    maxelem?: number;
    range?: { from: number; to: number };
    initval?: number;
    bucketsize?: number;
  } = {};
  for (let i = 0; i < rest.length; i++) {
    const k = rest[i]!;
    switch (k) {
      case '-exist':
      case '-!':
        exist = true;
        break;
      case 'family': {
        const f = rest[++i];
        if (f === 'inet') family = 4;
        else if (f === 'inet6') family = 6;
        else fail(line, `family must be inet or inet6, not "${f ?? ''}"`);
        break;
      }
      case 'hashsize':
        o.hashsize = intOpt(rest[++i], k, line);
        break;
      case 'maxelem':
        o.maxelem = intOpt(rest[++i], k, line);
        break;
      case 'bucketsize':
        o.bucketsize = intOpt(rest[++i], k, line);
        break;
      case 'initval':
        o.initval = intOpt(rest[++i], k, line);
        break;
      case 'range': {
        const m = /^(\d+)-(\d+)$/.exec(rest[++i] ?? '');
        if (!m) fail(line, 'range needs FROM-TO, e.g. 0-65535');
        const a = Number(m[1]);
        const b = Number(m[2]);
        o.range = { from: Math.min(a, b), to: Math.max(a, b) };
        break;
      }
      default:
        fail(line, `unknown create option "${k}"`);
    }
  }
  if (type === 'bitmap:port' && !o.range) fail(line, 'a bitmap:port set needs "range FROM-TO"');
  return { name, type, family, options: o, exist };
}

function sameCreate(s: IpSet, type: IpSetType, family: Family, o: IpSetOptions): boolean {
  return (
    s.type === type &&
    (s.type === 'bitmap:port' || s.family === family) &&
    (s.options.hashsize ?? 1024) === (o.hashsize ?? 1024) &&
    (s.options.maxelem ?? 65536) === (o.maxelem ?? 65536) &&
    s.options.range?.from === o.range?.from &&
    s.options.range?.to === o.range?.to
  );
}

/**
 * Load `ipset restore` input into the store, as the tool does line by line: create (with `-exist`, an
 * identical existing set is kept), add (with `-exist`, a present member is fine), del, flush, destroy.
 */
export function applyIpsetRestore(store: IpSetStore, text: string): void {
  const lines = text.split('\n');
  for (let n = 0; n < lines.length; n++) {
    const line = n + 1;
    const raw = lines[n]!.trim();
    if (raw === '' || raw.startsWith('#') || raw === 'COMMIT') continue;
    const [cmd, ...args] = raw.split(/\s+/);
    switch (cmd) {
      case 'create':
      case '-N':
      case 'n': {
        const c = parseCreate(args, line);
        const existing = store.get(c.name);
        if (existing) {
          if (c.exist && sameCreate(existing, c.type, c.family, c.options)) break;
          fail(line, `set ${c.name} already exists${c.exist ? ' with different create parameters' : ''}`);
        }
        store.create(c.name, c.type, c.type === 'bitmap:port' ? 4 : c.family, {
          ...c.options,
          ...(c.type === 'bitmap:port' ? {} : { bucketsize: c.options.bucketsize ?? 12 }),
        });
        break;
      }
      case 'add':
      case 'del':
      case '-A':
      case '-D':
      case 'a':
      case 'd': {
        const [name, member, ...flags] = args;
        if (!name || !member) fail(line, `${cmd} needs a set name and a member`);
        const set = store.get(name);
        if (!set) fail(line, `set ${name} does not exist; create it first`);
        const e = parseIpsetMember(set.type, set.family, member, line);
        const exist = flags.includes('-exist') || flags.includes('-!');
        const present = store
          .members(name)
          .some((m) => ipsetMemberText(set.type, m) === ipsetMemberText(set.type, e));
        if (cmd === 'add' || cmd === '-A' || cmd === 'a') {
          if (present && !exist) fail(line, `element ${member} is already added to set ${name}`);
          try {
            store.add(name, e);
          } catch (err) {
            fail(line, err instanceof Error ? err.message : String(err));
          }
        } else {
          if (!present && !exist) fail(line, `element ${member} is missing from set ${name}`);
          store.del(name, e);
        }
        break;
      }
      case 'flush':
      case '-F':
        for (const s of args.length ? [args[0]!] : store.list().map((x) => x.name)) store.flush(s);
        break;
      case 'destroy':
      case '-X':
      case 'x':
        for (const s of args.length ? [args[0]!] : store.list().map((x) => x.name)) store.destroy(s);
        break;
      default:
        fail(line, `unknown command "${cmd}"`);
    }
  }
}

function hex8(n: number): string {
  return `0x${(n >>> 0).toString(16).padStart(8, '0')}`;
}

function headerOf(s: IpSet): string {
  const o = s.options;
  if (s.type === 'bitmap:port') return `range ${o.range?.from ?? 0}-${o.range?.to ?? 65535}`;
  return `family ${s.family === 4 ? 'inet' : 'inet6'} hashsize ${o.hashsize ?? 1024} maxelem ${o.maxelem ?? 65536} bucketsize ${o.bucketsize ?? 12} initval ${hex8(o.initval ?? 0)}`;
}

function membersInPrintOrder(store: IpSetStore, s: IpSet): IpSetElement[] {
  const m = store.members(s.name);
  if (s.type === 'bitmap:port') m.sort((a, b) => a.port! - b.port!);
  return m;
}

/** `ipset save` of every set in the store. */
export function renderIpsetSave(store: IpSetStore): string {
  let out = '';
  for (const s of store.list()) {
    out += `create ${s.name} ${s.type} ${headerOf(s)}\n`;
    for (const e of membersInPrintOrder(store, s)) out += `add ${s.name} ${ipsetMemberText(s.type, e)}\n`;
  }
  return out;
}

/** Kernel revision of each set type (ipset 7.x, Linux >= 5.x). */
const REVISION: Readonly<Record<IpSetType, number>> = {
  'hash:ip': 6,
  'hash:ip,port': 7,
  'hash:ip,port,ip': 6,
  'hash:ip,port,net': 8,
  'hash:net': 7,
  'bitmap:port': 3,
};

/** [empty set, per member] bytes for hash sets of 1024 buckets, IPv4 then IPv6 (measured, Linux 6.x x86_64). */
const HASH_MEMORY: Readonly<
  Record<Exclude<IpSetType, 'bitmap:port'>, readonly [number, number, number, number]>
> = {
  'hash:ip': [216, 40, 224, 64],
  'hash:ip,port': [216, 48, 232, 72],
  'hash:ip,port,ip': [208, 56, 232, 104],
  'hash:ip,port,net': [464, 56, 1256, 104],
  'hash:net': [456, 48, 1240, 72],
};

function memoryOf(s: IpSet, count: number): number {
  if (s.type === 'bitmap:port') {
    const n = (s.options.range?.to ?? 65535) - (s.options.range?.from ?? 0) + 1;
    return 72 + Math.ceil(n / 64) * 8;
  }
  const [e4, m4, e6, m6] = HASH_MEMORY[s.type];
  return s.family === 4 ? e4 + count * m4 : e6 + count * m6;
}

/**
 * `ipset list` (every set, or the named ones). `references` gives each set's reference count, i.e. how
 * many iptables rules use it (`-m set --match-set NAME`); 0 when absent.
 */
export function renderIpsetList(
  store: IpSetStore,
  opts: { names?: readonly string[]; references?: ReadonlyMap<string, number>; terse?: boolean } = {},
): string {
  const sets = opts.names
    ? opts.names.map((n) => {
        const s = store.get(n);
        if (!s)
          throw new KpathError(
            ErrorCodes.NOT_FOUND,
            `ipset ${n}: the set with the given name does not exist`,
          );
        return s;
      })
    : store.list();
  return sets
    .map((s) => {
      const members = membersInPrintOrder(store, s);
      let out =
        `Name: ${s.name}\nType: ${s.type}\nRevision: ${REVISION[s.type]}\nHeader: ${headerOf(s)}\n` +
        `Size in memory: ${memoryOf(s, members.length)}\nReferences: ${opts.references?.get(s.name) ?? 0}\n` +
        `Number of entries: ${members.length}\n`;
      if (opts.terse) return out;
      out += 'Members:\n';
      for (const e of members) out += `${ipsetMemberText(s.type, e)}\n`;
      return out;
    })
    .join('\n');
}

/** How many rules of an iptables-save text name each set with `--match-set` (the kernel's References). */
export function ipsetReferences(saveText: string): Map<string, number> {
  const refs = new Map<string, number>();
  for (const m of saveText.matchAll(/--match-set (\S+)/g)) refs.set(m[1]!, (refs.get(m[1]!) ?? 0) + 1);
  return refs;
}
