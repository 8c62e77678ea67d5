/**
 * An emulated ipset store with the set types kube-proxy's ipvs mode uses. Members are typed values;
 * `test` answers whether an element built from a packet is in the set.
 */
import type { Family, IP, Prefix } from '../addr.js';
import { prefixContains } from '../addr.js';
import { ErrorCodes, KpathError } from '../errors.js';
import type { Packet } from '../packet.js';

export type IpSetType =
  | 'hash:ip'
  | 'hash:ip,port'
  | 'hash:ip,port,ip'
  | 'hash:ip,port,net'
  | 'hash:net'
  | 'bitmap:port';

/** One element; which fields matter depends on the set type. `proto` is an IP protocol number. */
export interface IpSetElement {
  readonly ip?: IP;
  readonly proto?: number;
  readonly port?: number;
  readonly ip2?: IP;
  readonly net?: Prefix;
}

function ipKey(ip: IP): string {
  return ip.family === 4 ? String(ip.n) : `6:${ip.big}`;
}

/**
 * One part of an element as a Map key: an IPv4 address as a signed 32-bit integer (a V8 small
 * integer, no allocation), an IPv6 one as a string; a protocol and port as proto * 65536 + port.
 */
type Part = number | string;

function ipPart(ip: IP): Part {
  return ip.family === 4 ? ip.n | 0 : `6:${ip.big}`;
}

function portPart(proto: number, port: number): number {
  return proto * 65536 + port;
}

/** The packet's protocol numbers (the set match's element takes the packet's protocol with its port). */
const PROTO_NUMBER: Readonly<Record<Packet['proto'], number>> = {
  tcp: 6,
  udp: 17,
  sctp: 132,
  icmp: 1,
  icmpv6: 58,
};

/**
 * Elements by their parts, nested (first part -> second -> third), so a lookup builds no key string:
 * each type uses the parts it has (IPSET_DIMENSIONS) and 0 for the others.
 */
class Nested<V> {
  private readonly root = new Map<Part, Map<Part, Map<Part, V>>>();

  get(a: Part, b: Part, c: Part): V | undefined {
    return this.root.get(a)?.get(b)?.get(c);
  }

  set(a: Part, b: Part, c: Part, v: V): void {
    let m1 = this.root.get(a);
    if (!m1) {
      m1 = new Map();
      this.root.set(a, m1);
    }
    let m2 = m1.get(b);
    if (!m2) {
      m2 = new Map();
      m1.set(b, m2);
    }
    m2.set(c, v);
  }

  delete(a: Part, b: Part, c: Part): void {
    const m1 = this.root.get(a);
    const m2 = m1?.get(b);
    if (!m1 || !m2) return;
    m2.delete(c);
    if (m2.size === 0) m1.delete(b);
    if (m1.size === 0) this.root.delete(a);
  }

  clear(): void {
    this.root.clear();
  }
}

/** Create options (`ipset create NAME TYPE ...`); the kernel's defaults when absent. */
export interface IpSetOptions {
  /** hash types: initial hash size (default 1024). */
  readonly hashsize?: number;
  /** hash types: maximum number of elements (default 65536). */
  readonly maxelem?: number;
  /** bitmap:port: the port range, inclusive. */
  readonly range?: { readonly from: number; readonly to: number };
  /**
   * hash types: the hash seed. The kernel draws it at random (get_random_u32) unless `initval` is
   * given; the emulation has no randomness of its own, so it is 0 unless set.
   */
  readonly initval?: number;
  /** hash types: bucket size (ipset 7.x default 12). */
  readonly bucketsize?: number;
}

export interface IpSet {
  readonly name: string;
  readonly type: IpSetType;
  readonly family: Family;
  readonly options: IpSetOptions;
}

class SetImpl implements IpSet {
  /** Members without a net part, by their parts (parts()). */
  readonly exact = new Nested<true>();
  /** Net members by their exact parts (0, 0 for hash:net). */
  readonly nets = new Nested<Prefix[]>();
  /** Every member as added, by its full key (insertion order). */
  readonly members = new Map<string, IpSetElement>();
  constructor(
    readonly name: string,
    readonly type: IpSetType,
    readonly family: Family,
    readonly options: IpSetOptions = {},
  ) {}

  private keyOf(e: IpSetElement, forAdd: boolean): { key: string; net?: Prefix } | undefined {
    const need = <T>(v: T | undefined, what: string): T => {
      if (v === undefined) {
        if (forAdd)
          throw new KpathError(ErrorCodes.RULES, `ipset ${this.name} (${this.type}): element needs ${what}`);
        throw new Error('missing');
      }
      return v;
    };
    try {
      switch (this.type) {
        case 'hash:ip':
          return { key: ipKey(need(e.ip, 'an address')) };
        case 'hash:ip,port':
          return {
            key: `${ipKey(need(e.ip, 'an address'))}|${need(e.proto, 'a protocol')}|${need(e.port, 'a port')}`,
          };
        case 'hash:ip,port,ip':
          return {
            key: `${ipKey(need(e.ip, 'an address'))}|${need(e.proto, 'a protocol')}|${need(e.port, 'a port')}|${ipKey(need(e.ip2, 'a second address'))}`,
          };
        case 'hash:ip,port,net':
          return {
            key: `${ipKey(need(e.ip, 'an address'))}|${need(e.proto, 'a protocol')}|${need(e.port, 'a port')}`,
            net: need(e.net, 'a network'),
          };
        case 'hash:net':
          return { key: '', net: need(e.net, 'a network') };
        case 'bitmap:port':
          return { key: String(need(e.port, 'a port')) };
        default: {
          const never: never = this.type;
          return never;
        }
      }
    } catch (err) {
      if (err instanceof KpathError) throw err;
      return undefined;
    }
  }

  /** The element's parts for the nested indexes (its fields are there: keyOf checked them). */
  private part(e: IpSetElement, i: 0 | 1 | 2): Part {
    switch (this.type) {
      case 'hash:ip':
        return i === 0 ? ipPart(e.ip!) : 0;
      case 'bitmap:port':
        return i === 0 ? e.port! : 0;
      case 'hash:net':
        return 0;
      default:
        // hash:ip,port, hash:ip,port,ip, hash:ip,port,net
        return i === 0
          ? ipPart(e.ip!)
          : i === 1
            ? portPart(e.proto!, e.port!)
            : this.type === 'hash:ip,port,ip'
              ? ipPart(e.ip2!)
              : 0;
    }
  }

  add(e: IpSetElement): void {
    const k = this.keyOf(e, true)!;
    if (this.type === 'bitmap:port' && this.options.range) {
      const port = e.port!;
      if (port < this.options.range.from || port > this.options.range.to)
        throw new KpathError(
          ErrorCodes.RULES,
          `ipset ${this.name}: port ${port} is outside the set's range ${this.options.range.from}-${this.options.range.to}`,
        );
    }
    this.members.set(k.net ? `${k.key}|${k.net.text}` : k.key, e);
    const a = this.part(e, 0);
    const b = this.part(e, 1);
    if (k.net) {
      const list = this.nets.get(a, b, 0) ?? [];
      if (!list.some((p) => p.text === k.net!.text)) list.push(k.net);
      this.nets.set(a, b, 0, list);
    } else this.exact.set(a, b, this.part(e, 2), true);
  }

  del(e: IpSetElement): void {
    const k = this.keyOf(e, true)!;
    this.members.delete(k.net ? `${k.key}|${k.net.text}` : k.key);
    const a = this.part(e, 0);
    const b = this.part(e, 1);
    if (k.net) {
      const list = (this.nets.get(a, b, 0) ?? []).filter((p) => p.text !== k.net!.text);
      if (list.length) this.nets.set(a, b, 0, list);
      else this.nets.delete(a, b, 0);
    } else this.exact.delete(a, b, this.part(e, 2));
  }

  clear(): void {
    this.exact.clear();
    this.nets.clear();
    this.members.clear();
  }

  /** Membership of a packet-derived element: for net types, `ip2` (or `ip`) is tested for containment. */
  test(e: IpSetElement): boolean {
    // Most of kube-proxy's sets are empty; the rest are looked up once per set match of a walk.
    if (this.members.size === 0) return false;
    switch (this.type) {
      case 'hash:net':
        return !!e.ip && this.inNets(0, 0, e.ip);
      case 'hash:ip,port,net':
        if (!e.ip || e.proto === undefined || e.port === undefined || !e.ip2) return false;
        return this.inNets(ipPart(e.ip), portPart(e.proto, e.port), e.ip2);
      case 'hash:ip':
        return !!e.ip && this.exact.get(ipPart(e.ip), 0, 0) === true;
      case 'hash:ip,port':
        return (
          !!e.ip &&
          e.proto !== undefined &&
          e.port !== undefined &&
          this.exact.get(ipPart(e.ip), portPart(e.proto, e.port), 0) === true
        );
      case 'hash:ip,port,ip':
        return (
          !!e.ip &&
          e.proto !== undefined &&
          e.port !== undefined &&
          !!e.ip2 &&
          this.exact.get(ipPart(e.ip), portPart(e.proto, e.port), ipPart(e.ip2)) === true
        );
      case 'bitmap:port':
        return e.port !== undefined && this.exact.get(e.port, 0, 0) === true;
    }
  }

  /**
   * test() of the element a set match builds from a packet (xt_set: each of the set's dimensions
   * from the packet's source or destination, by `dirs`), without building it. Fewer flags than the
   * set has dimensions never match (ip_set_test: opt->dim < set->type->dimension).
   */
  testPacket(dirs: readonly ('src' | 'dst')[], p: Packet): boolean {
    if (this.members.size === 0) return false;
    const dims = IPSET_DIMENSIONS[this.type].length;
    if (dirs.length < dims) return false;
    const s0 = dirs[0] === 'src';
    switch (this.type) {
      case 'hash:net':
        return this.inNets(0, 0, s0 ? p.src : p.dst);
      case 'bitmap:port':
        return this.exact.get(s0 ? p.sport : p.dport, 0, 0) === true;
      case 'hash:ip':
        return this.exact.get(ipPart(s0 ? p.src : p.dst), 0, 0) === true;
      default: {
        const a = ipPart(s0 ? p.src : p.dst);
        const b = portPart(PROTO_NUMBER[p.proto], dirs[1] === 'src' ? p.sport : p.dport);
        if (this.type === 'hash:ip,port') return this.exact.get(a, b, 0) === true;
        const third = dirs[2] === 'src' ? p.src : p.dst;
        if (this.type === 'hash:ip,port,ip') return this.exact.get(a, b, ipPart(third)) === true;
        return this.inNets(a, b, third);
      }
    }
  }

  private inNets(a: Part, b: Part, ip: IP): boolean {
    const list = this.nets.get(a, b, 0);
    if (!list) return false;
    for (let i = 0; i < list.length; i++) if (prefixContains(list[i]!, ip)) return true;
    return false;
  }
}

/** Sets by name, as `ipset create/add/del` would hold them. */
export class IpSetStore {
  private readonly sets = new Map<string, SetImpl>();
  private gen = 0;

  /** Bumped by every change to the sets or their members (caches of set-match results key on it). */
  get generation(): number {
    return this.gen;
  }

  create(name: string, type: IpSetType, family: Family = 4, options: IpSetOptions = {}): IpSet {
    if (this.sets.has(name)) throw new KpathError(ErrorCodes.RULES, `ipset ${name} already exists`);
    const s = new SetImpl(name, type, family, options);
    this.sets.set(name, s);
    this.gen++;
    return s;
  }

  /** Every set, in creation order (the order `ipset save` and `ipset list` print them). */
  list(): IpSet[] {
    return [...this.sets.values()];
  }

  /** The members of a set, in the order they were added; [] when the set does not exist. */
  members(name: string): IpSetElement[] {
    return [...(this.sets.get(name)?.members.values() ?? [])];
  }

  /** Remove every member (`ipset flush NAME`). */
  flush(name: string): void {
    const s = this.must(name);
    this.gen++;
    s.clear();
  }

  get(name: string): IpSet | undefined {
    return this.sets.get(name);
  }

  private must(name: string): SetImpl {
    const s = this.sets.get(name);
    if (!s) throw new KpathError(ErrorCodes.NOT_FOUND, `ipset ${name} does not exist; create it first`);
    return s;
  }

  add(name: string, e: IpSetElement): void {
    this.must(name).add(e);
    this.gen++;
  }

  del(name: string, e: IpSetElement): void {
    this.must(name).del(e);
    this.gen++;
  }

  /** true when the set has no members or does not exist. */
  isEmpty(name: string): boolean {
    return (this.sets.get(name)?.members.size ?? 0) === 0;
  }

  /** false when the set does not exist. */
  test(name: string, e: IpSetElement): boolean {
    return this.sets.get(name)?.test(e) ?? false;
  }

  /**
   * Whether the set holds the element a set match with these flags (`--match-set NAME dst,dst`)
   * builds from the packet (false when the set does not exist): test() without the element.
   */
  testPacket(name: string, dirs: readonly ('src' | 'dst')[], p: Packet): boolean {
    return this.sets.get(name)?.testPacket(dirs, p) ?? false;
  }

  destroy(name: string): void {
    this.sets.delete(name);
    this.gen++;
  }
}

/** The dimensions of each type: which element fields the set match's src/dst flags fill, in order. */
export const IPSET_DIMENSIONS: Readonly<Record<IpSetType, readonly ('ip' | 'port' | 'ip2')[]>> = {
  'hash:ip': ['ip'],
  'hash:ip,port': ['ip', 'port'],
  'hash:ip,port,ip': ['ip', 'port', 'ip2'],
  'hash:ip,port,net': ['ip', 'port', 'ip2'],
  'hash:net': ['ip'],
  'bitmap:port': ['port'],
};
