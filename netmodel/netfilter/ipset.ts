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

export interface IpSet {
  readonly name: string;
  readonly type: IpSetType;
  readonly family: Family;
}

class SetImpl implements IpSet {
  readonly exact = new Set<string>();
  /** Net members, keyed by the exact part (empty string for hash:net). */
  readonly nets = new Map<string, Prefix[]>();
  constructor(
    readonly name: string,
    readonly type: IpSetType,
    readonly family: Family,
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
    if (k.net) {
      const list = this.nets.get(k.key) ?? [];
      if (!list.some((p) => p.text === k.net!.text)) list.push(k.net);
      this.nets.set(k.key, list);
    } else this.exact.add(k.key);
  }

  del(e: IpSetElement): void {
    const k = this.keyOf(e, true)!;
    if (k.net) {
      const list = (this.nets.get(k.key) ?? []).filter((p) => p.text !== k.net!.text);
      this.nets.set(k.key, list);
    } else this.exact.delete(k.key);
  }

  /** Membership of a packet-derived element: for net types, `ip2` (or `ip`) is tested for containment. */
  test(e: IpSetElement): boolean {
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
        const k = this.keyOf(e, false);
        return !!k && this.exact.has(k.key);
      }
    }
  }
}

/** Sets by name, as `ipset create/add/del` would hold them. */
export class IpSetStore {
  private readonly sets = new Map<string, SetImpl>();

  create(name: string, type: IpSetType, family: Family = 4): IpSet {
    if (this.sets.has(name)) throw new KpathError(ErrorCodes.RULES, `ipset ${name} already exists`);
    const s = new SetImpl(name, type, family);
    this.sets.set(name, s);
    return s;
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
  }

  del(name: string, e: IpSetElement): void {
    this.must(name).del(e);
  }

  /** false when the set does not exist. */
  test(name: string, e: IpSetElement): boolean {
    return this.sets.get(name)?.test(e) ?? false;
  }

  destroy(name: string): void {
    this.sets.delete(name);
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
