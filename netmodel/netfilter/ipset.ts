/**
 * An emulated ipset store with the set types kube-proxy's ipvs mode uses. Members are typed values;
 * `test` answers whether an element built from a packet is in the set.
 */
import type { Family, IP, Prefix } from '../addr.js';
import { prefixContains } from '../addr.js';
import { ErrorCodes, KpathError } from '../errors.js';

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
  readonly exact = new Set<string>();
  /** Net members, keyed by the exact part (empty string for hash:net). */
  readonly nets = new Map<string, Prefix[]>();
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
    if (k.net) {
      const list = this.nets.get(k.key) ?? [];
      if (!list.some((p) => p.text === k.net!.text)) list.push(k.net);
      this.nets.set(k.key, list);
    } else this.exact.add(k.key);
  }

  del(e: IpSetElement): void {
    const k = this.keyOf(e, true)!;
    this.members.delete(k.net ? `${k.key}|${k.net.text}` : k.key);
    if (k.net) {
      const list = (this.nets.get(k.key) ?? []).filter((p) => p.text !== k.net!.text);
      this.nets.set(k.key, list);
    } else this.exact.delete(k.key);
  }

  /** Membership of a packet-derived element: for net types, `ip2` (or `ip`) is tested for containment. */
  test(e: IpSetElement): boolean {
    // Most of kube-proxy's sets are empty; the rest are looked up once per set match of a walk.
    if (this.members.size === 0) return false;
    switch (this.type) {
      case 'hash:net': {
        const ip = e.ip;
        return !!ip && (this.nets.get('') ?? []).some((p) => prefixContains(p, ip));
      }
      case 'hash:ip,port,net': {
        if (!e.ip || e.proto === undefined || e.port === undefined || !e.ip2) return false;
        const ip2 = e.ip2;
        return (this.nets.get(`${ipKey(e.ip)}|${e.proto}|${e.port}`) ?? []).some((p) =>
          prefixContains(p, ip2),
        );
      }
      default: {
        const k = this.exactKey(e);
        return k !== undefined && this.exact.has(k);
      }
    }
  }

  /** keyOf(e, false).key for the types without a net part, without keyOf's closure and result object. */
  private exactKey(e: IpSetElement): string | undefined {
    switch (this.type) {
      case 'hash:ip':
        return e.ip ? ipKey(e.ip) : undefined;
      case 'hash:ip,port':
        return e.ip && e.proto !== undefined && e.port !== undefined
          ? `${ipKey(e.ip)}|${e.proto}|${e.port}`
          : undefined;
      case 'hash:ip,port,ip':
        return e.ip && e.proto !== undefined && e.port !== undefined && e.ip2
          ? `${ipKey(e.ip)}|${e.proto}|${e.port}|${ipKey(e.ip2)}`
          : undefined;
      case 'bitmap:port':
        return e.port !== undefined ? String(e.port) : undefined;
      default:
        return this.keyOf(e, false)?.key;
    }
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
    s.exact.clear();
    s.nets.clear();
    s.members.clear();
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
