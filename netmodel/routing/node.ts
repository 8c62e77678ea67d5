/**
 * The routing side of one emulated Linux node: interfaces and addresses, the local and main tables,
 * the ip_forward sysctl, route lookups for locally generated and arriving packets, source address
 * selection (inet_select_addr, MASQUERADE) and address types (inet_addr_type, for -m addrtype).
 *
 * Connected and local routes are derived from the addresses of the interfaces that are up, as the
 * kernel adds and removes them (fib_add_ifaddr / fib_disable_ip). Static routes through a device
 * that goes down are deleted, as the kernel does.
 */
import type { IP } from '../addr.js';
import { ipEquals, parseIP, prefixContains, prefixOf, tryParsePrefix } from '../addr.js';
import { ErrorCodes, KpathError } from '../errors.js';
import type { IfAddress, Interface, LinkKind, Scope } from './interfaces.js';
import { makeAddress, SCOPE_NUMBER } from './interfaces.js';
import type { Route, RouteProto, RouteType } from './route.js';
import { RouteTable } from './route.js';

export interface InterfaceInit {
  readonly name: string;
  readonly kind?: LinkKind;
  readonly mtu?: number;
  readonly up?: boolean;
  readonly peer?: string;
  readonly master?: string;
}

export interface RouteInit {
  readonly type?: RouteType;
  /** `default`, a CIDR or a bare address. */
  readonly dst: string;
  readonly dev?: string;
  readonly via?: string;
  readonly src?: string;
  readonly metric?: number;
  readonly scope?: Scope;
  readonly proto?: RouteProto;
  /** `onlink`: use the gateway as if it were on the device's link, without a connected route to it. */
  readonly onlink?: boolean;
}

/** The outcome of a route lookup, as a value. */
export type RouteDecision =
  | { readonly kind: 'local'; readonly dev: string; readonly src: IP; readonly route: Route }
  | { readonly kind: 'broadcast'; readonly dev: string; readonly src: IP | undefined; readonly route: Route }
  | {
      readonly kind: 'unicast';
      readonly dev: string;
      readonly gateway: IP | undefined;
      /** The preferred source: the route's src hint, else inet_select_addr on the device. */
      readonly src: IP | undefined;
      readonly route: Route;
    }
  | { readonly kind: 'blackhole'; readonly errno: 'EINVAL'; readonly route: Route }
  /** `unreachable` routes (EHOSTUNREACH, ICMP code 1) or no route at all (ENETUNREACH, code 0). */
  | { readonly kind: 'unreachable'; readonly errno: 'EHOSTUNREACH' | 'ENETUNREACH'; readonly icmpCode: 0 | 1 }
  /** `prohibit` routes: EACCES, ICMP code 13 (communication administratively prohibited). */
  | { readonly kind: 'prohibit'; readonly errno: 'EACCES'; readonly icmpCode: 13 };

/** What happens to a packet arriving on an interface (ip_route_input). */
/** routeInput's answers for local delivery, one object each (a decision is a value: nobody changes it). */
const LOCAL_UNICAST: InputDecision = Object.freeze({ kind: 'local', broadcast: false });
const LOCAL_BROADCAST: InputDecision = Object.freeze({ kind: 'local', broadcast: true });

export type InputDecision =
  | { readonly kind: 'local'; readonly broadcast: boolean }
  | {
      readonly kind: 'forward';
      readonly dev: string;
      readonly gateway: IP | undefined;
      readonly route: Route;
    }
  /** Silently dropped: forwarding off, a blackhole route, or nothing modelled for it. */
  | { readonly kind: 'drop'; readonly reason: string }
  /** Dropped with an ICMP destination unreachable of this code back to the sender. */
  | { readonly kind: 'icmp-unreachable'; readonly icmpCode: 0 | 1 | 13; readonly reason: string };

/** RTN_* names, as `-m addrtype --src-type/--dst-type` takes them. */
export type AddrType =
  | 'UNSPEC'
  | 'UNICAST'
  | 'LOCAL'
  | 'BROADCAST'
  | 'ANYCAST'
  | 'MULTICAST'
  | 'BLACKHOLE'
  | 'UNREACHABLE'
  | 'PROHIBIT'
  | 'THROW'
  | 'NAT'
  | 'XRESOLVE';

interface MutableInterface {
  name: string;
  index: number;
  kind: LinkKind;
  mtu: number;
  up: boolean;
  addresses: IfAddress[];
  peer?: string;
  master?: string;
}

function defaultMtu(kind: LinkKind): number {
  return kind === 'loopback' ? 65536 : kind === 'vxlan' ? 1450 : 1500;
}

/** Lookup results of one generation (see RoutingNode.memo). */
interface LookupMemo {
  readonly gen: number;
  readonly fib: Map<number | bigint, Route | null>;
  readonly local: Map<number | bigint, Route | null>;
  readonly route: Map<number | bigint, RouteDecision>;
}

/** An address inet_select_addr may pick: the family, primary, and a scope at least as wide as `want`. */
function selectable(a: IfAddress, family: 4 | 6, want: number): boolean {
  return a.ip.family === family && !a.secondary && Math.min(SCOPE_NUMBER[a.scope], SCOPE_NUMBER.link) <= want;
}

/** Addresses remembered per generation by the lookup memo before it starts afresh. */
const MEMO_MAX = 4096;

export class RoutingNode {
  /** net.ipv4.ip_forward (and net.ipv6.conf.all.forwarding). Linux's default is 0. */
  ipForward: boolean;
  private readonly ifs = new Map<string, MutableInterface>();
  private nextIndex = 1;
  private readonly statics = new RouteTable();
  /** Bumped by every change to interfaces, addresses or routes; the derived tables are cached per generation. */
  private gen = 0;
  /**
   * Addresses added while their device was down: fib_add_ifaddr installs their local /32 route
   * before it checks IFF_UP, so they are local addresses although the device is down (kube-proxy's
   * kube-ipvs0 dummy is never brought up). A later down of an up device flushes them (fib_disable_ip).
   */
  private readonly localWhileDown = new Set<IfAddress>();
  private cached: { gen: number; local: RouteTable; main: RouteTable } | undefined;

  /** The routing generation: changes whenever interfaces, addresses or routes do (for callers' caches). */
  get generation(): number {
    return this.gen;
  }

  constructor(opts: { ipForward?: boolean } = {}) {
    this.ipForward = opts.ipForward ?? false;
    this.addInterface({ name: 'lo', kind: 'loopback', up: true });
    this.addAddress('lo', '127.0.0.1/8');
    this.addAddress('lo', '::1/128');
  }

  // ---- configuration -------------------------------------------------------------------------

  addInterface(init: InterfaceInit): Interface {
    if (this.ifs.has(init.name)) {
      throw new KpathError(
        ErrorCodes.INVALID,
        `interface ${init.name} already exists (RTNETLINK answers: File exists)`,
      );
    }
    const kind = init.kind ?? 'ethernet';
    const i: MutableInterface = {
      name: init.name,
      index: this.nextIndex++,
      kind,
      mtu: init.mtu ?? defaultMtu(kind),
      up: init.up ?? false,
      addresses: [],
      ...(init.peer !== undefined ? { peer: init.peer } : {}),
      ...(init.master !== undefined ? { master: init.master } : {}),
    };
    this.ifs.set(i.name, i);
    this.gen++;
    return i;
  }

  interface(name: string): Interface | undefined {
    return this.ifs.get(name);
  }

  interfaces(): Interface[] {
    return [...this.ifs.values()];
  }

  private dev(name: string): MutableInterface {
    const i = this.ifs.get(name);
    if (!i) throw new KpathError(ErrorCodes.NOT_FOUND, `Cannot find device "${name}"`);
    return i;
  }

  /** `ip link set NAME up|down`. Down removes the device's routes (static ones for good). */
  setUp(name: string, up: boolean): void {
    const i = this.dev(name);
    if (!up && i.up) for (const a of i.addresses) this.localWhileDown.delete(a);
    i.up = up;
    this.gen++;
    if (!up) this.statics.remove((r) => r.dev === name);
  }

  /** `ip addr add CIDR dev NAME [scope S]`. */
  addAddress(name: string, cidr: string, scope?: Scope): IfAddress {
    const i = this.dev(name);
    const slash = cidr.indexOf('/');
    const ip = parseIP(slash < 0 ? cidr : cidr.slice(0, slash));
    const p = tryParsePrefix(cidr);
    if (!p)
      throw new KpathError(
        ErrorCodes.ADDRESS,
        `"${cidr}" is not a valid address/prefix (e.g. 10.244.0.1/24)`,
      );
    if (i.addresses.some((a) => ipEquals(a.ip, ip))) {
      throw new KpathError(
        ErrorCodes.INVALID,
        `${ip.text} is already on ${name} (RTNETLINK answers: File exists)`,
      );
    }
    const a = makeAddress(ip, p.bits, i.addresses, scope);
    i.addresses.push(a);
    if (!i.up) this.localWhileDown.add(a);
    this.gen++;
    return a;
  }

  /** `ip addr del`. A removed primary promotes nothing (promote_secondaries=0 deletes them too). */
  delAddress(name: string, ipText: string): void {
    const i = this.dev(name);
    const ip = parseIP(ipText);
    const a = i.addresses.find((x) => ipEquals(x.ip, ip));
    if (!a) throw new KpathError(ErrorCodes.NOT_FOUND, `${ipText} is not on ${name}`);
    this.gen++;
    i.addresses = i.addresses.filter(
      (x) =>
        x !== a &&
        !(!a.secondary && x.secondary && x.prefixLen === a.prefixLen && prefixContains(a.subnet, x.ip)),
    );
  }

  /** `ip route add`. */
  addRoute(init: RouteInit): Route {
    const type = init.type ?? 'unicast';
    const dst =
      init.dst === 'default'
        ? tryParsePrefix(init.via?.includes(':') ? '::/0' : '0.0.0.0/0')
        : tryParsePrefix(init.dst);
    if (!dst) throw new KpathError(ErrorCodes.ADDRESS, `"${init.dst}" is not a valid route destination`);
    const via = init.via !== undefined ? parseIP(init.via) : undefined;
    let dev = init.dev;
    if (type === 'unicast') {
      if (via && init.onlink && dev === undefined)
        throw new KpathError(ErrorCodes.INVALID, `onlink route ${init.dst} needs a device`);
      if (via && !init.onlink) {
        // fib_check_nh: the gateway must be reachable by a link-scope route (connected, or a static
        // `dev X scope link` route such as Calico's 169.254.1.1 in a pod).
        const onLink =
          this.connected().find((r) => (dev === undefined || r.dev === dev) && prefixContains(r.dst, via)) ??
          this.statics
            .routes()
            .find(
              (r) =>
                r.type === 'unicast' &&
                !r.via &&
                r.dev !== undefined &&
                (dev === undefined || r.dev === dev) &&
                prefixContains(r.dst, via),
            );
        if (!onLink)
          throw new KpathError(
            ErrorCodes.INVALID,
            `Nexthop has invalid gateway ${via.text} (not on a connected subnet)`,
          );
        dev = dev ?? onLink.dev;
      }
      if (dev === undefined)
        throw new KpathError(ErrorCodes.INVALID, `route ${init.dst} needs a device or a gateway`);
      if (!this.dev(dev).up)
        throw new KpathError(
          ErrorCodes.INVALID,
          `device ${dev} is down (RTNETLINK answers: Network is down)`,
        );
    }
    const r: Route = {
      type,
      dst,
      ...(dev !== undefined && type === 'unicast' ? { dev } : {}),
      ...(via ? { via } : {}),
      ...(init.src !== undefined ? { src: parseIP(init.src) } : {}),
      metric: init.metric ?? (dst.ip.family === 6 ? 1024 : 0),
      scope: init.scope ?? (type === 'unicast' && !via ? 'link' : 'global'),
      proto: init.proto ?? 'boot',
      ...(init.onlink ? { onlink: true } : {}),
    };
    this.statics.add(r);
    this.gen++;
    return r;
  }

  delRoute(dst: string): number {
    const p = dst === 'default' ? tryParsePrefix('0.0.0.0/0') : tryParsePrefix(dst);
    if (!p) throw new KpathError(ErrorCodes.ADDRESS, `"${dst}" is not a valid route destination`);
    this.gen++;
    return this.statics.remove((r) => r.dst.text === p.text);
  }

  // ---- tables --------------------------------------------------------------------------------

  private connected(): Route[] {
    const out: Route[] = [];
    for (const i of this.ifs.values()) {
      if (!i.up) continue;
      for (const a of i.addresses) {
        if (a.secondary) continue;
        const max = a.ip.family === 4 ? 32 : 128;
        if (a.prefixLen === max) continue;
        if (i.kind === 'loopback' && a.ip.family === 4) continue; // lo's prefix is a local route
        out.push({
          type: 'unicast',
          dst: a.subnet,
          dev: i.name,
          ...(a.ip.family === 4 ? { src: a.ip } : {}),
          metric: a.ip.family === 6 ? 256 : 0,
          scope: 'link',
          proto: 'kernel',
        });
      }
    }
    return out;
  }

  private primaryFor(i: MutableInterface, a: IfAddress): IP {
    if (!a.secondary) return a.ip;
    return (
      i.addresses.find((x) => !x.secondary && x.prefixLen === a.prefixLen && prefixContains(x.subnet, a.ip))
        ?.ip ?? a.ip
    );
  }

  /** The local and main tables of the current configuration, built once per change. Do not mutate. */
  private tables(): { local: RouteTable; main: RouteTable } {
    if (!this.cached || this.cached.gen !== this.gen) {
      this.cached = { gen: this.gen, local: this.buildLocal(), main: this.buildMain() };
    }
    return this.cached;
  }

  /** `ip route show table local` (a shared, read-only table). */
  localTable(): RouteTable {
    return this.tables().local;
  }

  /** `ip route show` (table main; a shared, read-only table). */
  mainTable(): RouteTable {
    return this.tables().main;
  }

  private buildLocal(): RouteTable {
    const t = new RouteTable();
    for (const i of this.ifs.values()) {
      for (const a of i.addresses) {
        if (!i.up && !this.localWhileDown.has(a)) continue;
        const src = this.primaryFor(i, a);
        t.add({
          type: 'local',
          dst: prefixOf(a.ip, a.ip.family === 4 ? 32 : 128),
          dev: i.name,
          src,
          metric: 0,
          scope: 'host',
          proto: 'kernel',
        });
        if (!i.up) continue; // the rest only once the device is up
        if (i.kind === 'loopback' && a.ip.family === 4 && a.prefixLen < 32 && !a.secondary) {
          t.add({
            type: 'local',
            dst: a.subnet,
            dev: i.name,
            src,
            metric: 0,
            scope: 'host',
            proto: 'kernel',
          });
        }
        if (a.broadcast && !a.secondary) {
          t.add({
            type: 'broadcast',
            dst: prefixOf(a.broadcast, 32),
            dev: i.name,
            src,
            metric: 0,
            scope: 'link',
            proto: 'kernel',
          });
        }
      }
    }
    return t;
  }

  private buildMain(): RouteTable {
    const t = new RouteTable();
    for (const r of this.connected()) t.add(r);
    for (const r of this.statics.routes()) t.add(r);
    return t;
  }

  private usable = (r: Route): boolean =>
    r.dev === undefined || r.type === 'local' || this.ifs.get(r.dev)?.up === true;

  /**
   * Lookup results of the current generation (tables and interface states are fixed within one), by
   * address: IPv4 as its uint32 number, IPv6 as its bigint (a Map tells 1 from 1n); null = no route.
   * Cleared on every change, and when it grows past MEMO_MAX addresses.
   */
  private memo: LookupMemo = { gen: -1, fib: new Map(), local: new Map(), route: new Map() };

  private memoOf(): LookupMemo {
    const m = this.memo;
    if (m.gen === this.gen && m.fib.size < MEMO_MAX && m.local.size < MEMO_MAX && m.route.size < MEMO_MAX)
      return m;
    this.memo = { gen: this.gen, fib: new Map(), local: new Map(), route: new Map() };
    return this.memo;
  }

  /** localTable().lookup(ip, usable), memoized. */
  private localLookup(ip: IP): Route | undefined {
    const memo = this.memoOf().local;
    const k = ip.family === 4 ? ip.n : ip.big;
    let r = memo.get(k);
    if (r === undefined) {
      r = this.localTable().lookup(ip, this.usable) ?? null;
      memo.set(k, r);
    }
    return r ?? undefined;
  }

  /** fib_lookup over the local then the main table (rules 0 and 32766); `throw` falls through. */
  fibLookup(dst: IP): Route | undefined {
    const memo = this.memoOf().fib;
    const k = dst.family === 4 ? dst.n : dst.big;
    let r = memo.get(k);
    if (r === undefined) {
      r = this.fibLookupUncached(dst) ?? null;
      memo.set(k, r);
    }
    return r ?? undefined;
  }

  private fibLookupUncached(dst: IP): Route | undefined {
    const local = this.localLookup(dst);
    if (local) return local;
    const main = this.mainTable().lookup(dst, this.usable);
    return main && main.type !== 'throw' ? main : undefined;
  }

  // ---- lookups -------------------------------------------------------------------------------

  /** Output route lookup for a locally generated packet (`ip route get DST`); memoized (read-only). */
  route(dst: IP): RouteDecision {
    const memo = this.memoOf().route;
    const k = dst.family === 4 ? dst.n : dst.big;
    let d = memo.get(k);
    if (d === undefined) {
      d = this.routeUncached(dst);
      memo.set(k, d);
    }
    return d;
  }

  private routeUncached(dst: IP): RouteDecision {
    const r = this.fibLookup(dst);
    if (!r) return { kind: 'unreachable', errno: 'ENETUNREACH', icmpCode: 0 };
    switch (r.type) {
      case 'local':
        return { kind: 'local', dev: 'lo', src: r.src ?? dst, route: r };
      case 'broadcast':
        return { kind: 'broadcast', dev: r.dev ?? 'lo', src: r.src, route: r };
      case 'blackhole':
        return { kind: 'blackhole', errno: 'EINVAL', route: r };
      case 'unreachable':
        return { kind: 'unreachable', errno: 'EHOSTUNREACH', icmpCode: 1 };
      case 'prohibit':
        return { kind: 'prohibit', errno: 'EACCES', icmpCode: 13 };
      case 'throw':
        return { kind: 'unreachable', errno: 'ENETUNREACH', icmpCode: 0 };
      case 'unicast': {
        const dev = r.dev!;
        const src = r.src ?? this.selectSource(dev, r.via, r.scope);
        return { kind: 'unicast', dev, gateway: r.via, src, route: r };
      }
    }
  }

  /** ip_route_input for a packet to `dst` arriving on `iif`. */
  routeInput(dst: IP, iif: string): InputDecision {
    this.dev(iif);
    if (dst.family === 4 && dst.n >>> 28 === 0xe)
      return { kind: 'drop', reason: 'multicast delivery is not modelled' };
    if (dst.family === 4 && dst.n === 0xffffffff) return LOCAL_BROADCAST;
    const r = this.fibLookup(dst);
    if (r?.type === 'local') return LOCAL_UNICAST;
    if (r?.type === 'broadcast') return LOCAL_BROADCAST;
    if (!this.ipForward) return { kind: 'drop', reason: 'not for this host and ip_forward=0' };
    if (!r) return { kind: 'icmp-unreachable', icmpCode: 0, reason: 'no route to network' };
    switch (r.type) {
      case 'unreachable':
      case 'throw':
        return {
          kind: 'icmp-unreachable',
          icmpCode: r.type === 'throw' ? 0 : 1,
          reason: `${r.type} route ${r.dst.text}`,
        };
      case 'prohibit':
        return { kind: 'icmp-unreachable', icmpCode: 13, reason: `prohibit route ${r.dst.text}` };
      case 'blackhole':
        return { kind: 'drop', reason: `blackhole route ${r.dst.text}` };
      case 'unicast':
        return { kind: 'forward', dev: r.dev!, gateway: r.via, route: r };
    }
  }

  /**
   * inet_select_addr(dev, dst, scope): the first primary address of the device whose scope is wide
   * enough, preferring one whose subnet holds `dst`; failing that, for scopes wider than link, the
   * first such primary address of any other device.
   */
  selectSource(
    devName: string,
    dst: IP | undefined,
    scope: Scope = 'global',
    family: 4 | 6 = dst?.family ?? 4,
  ): IP | undefined {
    const want = SCOPE_NUMBER[scope];
    const i = this.ifs.get(devName);
    let addr: IP | undefined;
    if (i) {
      for (const a of i.addresses) {
        if (!selectable(a, family, want)) continue;
        if (!dst || prefixContains(a.subnet, dst)) return a.ip;
        addr ??= a.ip;
      }
    }
    if (addr || want >= SCOPE_NUMBER.link) return addr;
    for (const other of this.ifs.values()) {
      if (other.name === devName) continue;
      for (const a of other.addresses) if (selectable(a, family, want) && a.scope !== 'link') return a.ip;
    }
    return undefined;
  }

  /**
   * The address MASQUERADE gives a packet leaving `outDev` towards `nextHop` (the gateway, or the
   * destination when on-link): inet_select_addr(out, nh, RT_SCOPE_UNIVERSE). Route `src` hints play
   * no part. Undefined means the kernel drops the packet ("ate my IP address").
   */
  masqueradeSource(outDev: string, nextHop: IP): IP | undefined {
    return this.selectSource(outDev, nextHop, 'global', nextHop.family);
  }

  /** inet_addr_type / inet_dev_addr_type: what `-m addrtype` sees for an address (optionally on one device). */
  addrType(ip: IP, dev?: string): AddrType {
    if (ip.family === 4) {
      if (ip.n >>> 24 === 0 || ip.n === 0xffffffff) return 'BROADCAST';
      if (ip.n >>> 28 === 0xe) return 'MULTICAST';
    } else {
      if (ip.big === 0n) return 'UNSPEC';
      if (ip.big >> 120n === 0xffn) return 'MULTICAST';
    }
    const r = this.localLookup(ip);
    if (r && (dev === undefined || r.dev === dev)) return r.type === 'local' ? 'LOCAL' : 'BROADCAST';
    if (ip.family === 6) {
      const m = this.mainTable().lookup(ip, this.usable);
      if (m?.type === 'unreachable' || m?.type === 'prohibit' || m?.type === 'blackhole')
        return 'UNREACHABLE';
    }
    return 'UNICAST';
  }

  /** Is `ip` one of this node's addresses (or in a local route such as 127.0.0.0/8)? */
  isLocal(ip: IP): boolean {
    return this.addrType(ip) === 'LOCAL';
  }
}
