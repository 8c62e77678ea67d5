/**
 * The emulated IPVS of one node (struct netns_ipvs): virtual services, the trash of deleted real
 * servers that connections still reference, the connection table, the protocol timeouts and the
 * net.ipv4.vs sysctls. `sync` applies a list of IpvsServiceSpec the way a program driving ipvsadm
 * would: add what is new, edit what changed, delete what is gone, leaving untouched services and
 * real servers (and their scheduler state and counters) as they are.
 */
import type { IP } from '../addr.js';
import type { ConntrackTable } from '../conntrack/index.js';
import { ErrorCodes, KpathError } from '../errors.js';
import type { Packet } from '../packet.js';
import { type Rng, SeededRng } from '../rng.js';
import { type IpvsConn, IpvsConnTable } from './conn.js';
import type { ConnHashKeys } from './conn-hash.js';
import { destKey, type IpvsDest, type IpvsStats, newStats } from './dest.js';
import {
  type IpvsHookName,
  type IpvsHookOptions,
  type IpvsHookResult,
  ipvsHook,
  ipvsTimers,
} from './hook.js';
import { IpvsService, serviceKey } from './service.js';
import { DEFAULT_TCP_TIMEOUTS, DEFAULT_UDP_TIMEOUT, type IpvsTcpState } from './tcp-state.js';
import type { IpvsDestinationSpec, IpvsProtocol, IpvsServiceSpec } from './types.js';

/** net.ipv4.vs.* sysctls that change behaviour here. Defaults are the kernel's, not kube-proxy's. */
export interface IpvsSysctls {
  /** net.ipv4.vs.conntrack (kube-proxy sets 1): keep conntrack and alter its reply tuple. Kernel default 0. */
  readonly conntrack: boolean;
  /** net.ipv4.vs.expire_nodest_conn (kube-proxy sets 1). Kernel default 0. */
  readonly expireNodestConn: boolean;
  /** net.ipv4.vs.expire_quiescent_template (kube-proxy sets 1). Kernel default 0. */
  readonly expireQuiescentTemplate: boolean;
  /** net.ipv4.vs.conn_reuse_mode. Kernel default 1. */
  readonly connReuseMode: number;
}

export const DEFAULT_IPVS_SYSCTLS: IpvsSysctls = {
  conntrack: false,
  expireNodestConn: false,
  expireQuiescentTemplate: false,
  connReuseMode: 1,
};

/** The sysctls kube-proxy's ipvs proxier sets (pkg/proxy/ipvs/proxier.go). */
export const KUBE_PROXY_IPVS_SYSCTLS: IpvsSysctls = {
  conntrack: true,
  expireNodestConn: true,
  expireQuiescentTemplate: true,
  connReuseMode: 1,
};

/** `ipvsadm --set tcp tcpfin udp`, seconds; 0 leaves a value as it is. */
export interface IpvsTimeoutSet {
  readonly tcp?: number;
  readonly tcpFin?: number;
  readonly udp?: number;
}

export interface IpvsTableOptions {
  readonly sysctls?: Partial<IpvsSysctls>;
  readonly timeouts?: IpvsTimeoutSet;
  /** Connection hash table size as `ipvsadm -Ln` prints it (CONFIG_IP_VS_TAB_BITS = 12 -> 4096). */
  readonly connTabSize?: number;
  /** Randomness for the twos scheduler (the kernel's prandom_u32); seeded, so runs repeat. */
  readonly rng?: Rng;
  /**
   * Seeds the node's per-boot connection hash keys (ip_vs_conn_rnd and the netns pointer), which
   * decide the order `ipvsadm -Lnc` lists connections in (conn-hash.ts). Default 1.
   */
  readonly connHashSeed?: number;
}

export class IpvsTable {
  readonly services = new Map<string, IpvsService>();
  /** The services by virtual address text (findService's lookup, with no key string per packet). */
  private readonly byVip = new Map<string, IpvsService[]>();
  readonly conns = new IpvsConnTable();
  /** Deleted dests still referenced by connections, by service key and dest (ipvs->dest_trash). */
  readonly trash = new Map<string, IpvsDest>();
  sysctls: IpvsSysctls;
  readonly tcpTimeouts: Record<IpvsTcpState, number> = { ...DEFAULT_TCP_TIMEOUTS };
  udpTimeout = DEFAULT_UDP_TIMEOUT;
  readonly connTabSize: number;
  /** ipvs->tot_stats. */
  readonly totalStats: IpvsStats = newStats();
  /**
   * Expired connections made with net.ipv4.vs.conntrack whose conntrack entries are still to be
   * dropped (ip_vs_conn_drop_conntrack); the walker drains it (ipvsTimers) before a packet.
   */
  readonly conntrackDrops: IpvsConn[] = [];

  private readonly rng: Rng | undefined;
  /** The per-boot keys of the connection hash table (ip_vs_conn_rnd, the netns pointer). */
  readonly connHashKeys: ConnHashKeys;

  constructor(opts: IpvsTableOptions = {}) {
    this.rng = opts.rng;
    const seeded = new SeededRng(opts.connHashSeed ?? 1);
    this.connHashKeys = { rnd: seeded.uint32(), netns: seeded.uint32() };
    this.sysctls = { ...DEFAULT_IPVS_SYSCTLS, ...opts.sysctls };
    this.connTabSize = opts.connTabSize ?? 4096;
    if (opts.timeouts) this.setTimeouts(opts.timeouts);
  }

  /** `ipvsadm --set tcp tcpfin udp` (ESTABLISHED, FIN_WAIT, UDP NORMAL). Negative values are refused. */
  setTimeouts(t: IpvsTimeoutSet): void {
    for (const [k, v] of Object.entries(t)) {
      if (v !== undefined && (!Number.isInteger(v) || v < 0))
        throw new KpathError(
          ErrorCodes.USAGE,
          `ipvs timeout ${k} must be a whole number of seconds >= 0 (0 keeps the current value), got ${v}`,
        );
    }
    if (t.tcp) this.tcpTimeouts.ESTABLISHED = t.tcp;
    if (t.tcpFin) this.tcpTimeouts.FIN_WAIT = t.tcpFin;
    if (t.udp) this.udpTimeout = t.udp;
  }

  /** `ipvsadm -L --timeout` values. */
  timeouts(): { tcp: number; tcpFin: number; udp: number } {
    return { tcp: this.tcpTimeouts.ESTABLISHED, tcpFin: this.tcpTimeouts.FIN_WAIT, udp: this.udpTimeout };
  }

  setSysctls(s: Partial<IpvsSysctls>): void {
    this.sysctls = { ...this.sysctls, ...s };
  }

  // ---- ipvsadm edits --------------------------------------------------------------------------

  /** ipvsadm -A, then -a for each destination in order. */
  addService(spec: IpvsServiceSpec, now = 0): IpvsService {
    const key = serviceKey(spec.protocol, spec.vip, spec.port);
    if (this.services.has(key))
      throw new KpathError(
        ErrorCodes.INVALID,
        `ipvs: virtual service ${key} already exists (ipvsadm -A: File exists)`,
      );
    checkSpec(spec);
    const svc = new IpvsService(spec, now, this.rng);
    this.services.set(key, svc);
    this.lastKey = undefined;
    const same = this.byVip.get(svc.vip.text);
    if (same) same.push(svc);
    else this.byVip.set(svc.vip.text, [svc]);
    for (const d of spec.destinations) this.addDest(svc, d);
    return svc;
  }

  /** ipvsadm -D: the dests go to the trash if connections use them. */
  deleteService(svc: IpvsService): void {
    for (const d of [...svc.dests]) this.deleteDest(svc, d);
    this.services.delete(svc.key);
    this.lastKey = undefined;
    const same = this.byVip.get(svc.vip.text);
    if (same) {
      const rest = same.filter((s) => s !== svc);
      if (rest.length) this.byVip.set(svc.vip.text, rest);
      else this.byVip.delete(svc.vip.text);
    }
  }

  /** ipvsadm -a (a dest in the trash comes back with its counters). */
  addDest(svc: IpvsService, spec: IpvsDestinationSpec): IpvsDest {
    if (svc.find(spec.ip, spec.port))
      throw new KpathError(
        ErrorCodes.INVALID,
        `ipvs: real server ${destKey(spec.ip, spec.port)} already in ${svc.key} (ipvsadm -a: Destination already exists)`,
      );
    const tk = `${svc.key}#${destKey(spec.ip, spec.port)}`;
    const old = this.trash.get(tk);
    if (old) this.trash.delete(tk);
    return svc.addDest(spec, old);
  }

  editDest(svc: IpvsService, d: IpvsDest, spec: IpvsDestinationSpec): void {
    svc.editDest(d, spec);
  }

  deleteDest(svc: IpvsService, d: IpvsDest): void {
    svc.deleteDest(d);
    if (this.conns.references(d)) this.trash.set(`${svc.key}#${destKey(d.ip, d.port)}`, d);
  }

  /**
   * Program the node from specs: services not listed are deleted, new ones added, changed ones
   * edited; within a service new dests are added in spec order (each at the head of the kernel
   * list), changed ones edited, then missing ones deleted.
   */
  sync(specs: readonly IpvsServiceSpec[], now = 0): void {
    const want = new Map<string, IpvsServiceSpec>();
    for (const s of specs) {
      const k = serviceKey(s.protocol, s.vip, s.port);
      if (want.has(k))
        throw new KpathError(ErrorCodes.INVALID, `ipvs: virtual service ${k} is listed twice in the specs`);
      checkSpec(s);
      want.set(k, s);
    }
    for (const [k, svc] of [...this.services]) if (!want.has(k)) this.deleteService(svc);
    for (const [k, spec] of want) {
      const svc = this.services.get(k);
      if (!svc) {
        this.addService(spec, now);
        continue;
      }
      if (
        svc.scheduler !== spec.scheduler ||
        !sameFlags(svc.flags, spec.flags) ||
        svc.persistence?.timeoutSeconds !== spec.persistence?.timeoutSeconds ||
        svc.persistence?.netmaskBits !== spec.persistence?.netmaskBits
      )
        svc.edit(spec, now);
      const keep = new Set<string>();
      for (const ds of spec.destinations) {
        keep.add(destKey(ds.ip, ds.port));
        const d = svc.find(ds.ip, ds.port);
        if (!d) this.addDest(svc, ds);
        else if (
          d.weight !== ds.weight ||
          d.forward !== ds.forward ||
          d.upperThreshold !== (ds.upperThreshold ?? 0) ||
          d.lowerThreshold !== (ds.lowerThreshold ?? 0)
        )
          this.editDest(svc, d, ds);
      }
      for (const d of [...svc.dests]) if (!keep.has(destKey(d.ip, d.port))) this.deleteDest(svc, d);
    }
  }

  /** The specs this table would be rebuilt from (destinations in the order they were added). */
  specs(): IpvsServiceSpec[] {
    return [...this.services.values()].map((s) => s.spec());
  }

  // ---- lookups --------------------------------------------------------------------------------

  /** ip_vs_service_find: the exact service, else the port-zero (any port) service of the address. */
  findService(protocol: IpvsProtocol, vip: IP, port: number): IpvsService | undefined {
    const same = this.byVip.get(vip.text);
    if (!same) return undefined;
    let any: IpvsService | undefined;
    for (let i = 0; i < same.length; i++) {
      const s = same[i]!;
      if (s.protocol !== protocol) continue;
      if (s.port === port) return s;
      if (s.port === 0) any = s;
    }
    return any;
  }

  /**
   * The service of a connection's serviceKey (`services.get`), answered from the last answer while no
   * service was added or deleted: every packet of an existing connection asks (its statistics), and
   * the entries of one service share its key string, so the comparison is of one pointer where the
   * Map compared the characters of two equal strings.
   */
  serviceOf(key: string): IpvsService | undefined {
    if (key === this.lastKey && this.lastKey !== undefined) return this.lastService;
    const svc = this.services.get(key);
    this.lastKey = key;
    this.lastService = svc;
    return svc;
  }

  /** serviceOf's last answer (forgotten by every add and delete of a service). */
  private lastKey: string | undefined = undefined;
  private lastService: IpvsService | undefined = undefined;

  /** Whether the address is a virtual service address (any protocol/port). */
  hasVip(vip: IP): boolean {
    return this.byVip.has(vip.text);
  }

  /**
   * Run the connection timers due at `now`; trashed dests nobody references any more are freed.
   * Returns the entries that went.
   */
  expire(now: number): IpvsConn[] {
    const gone = this.conns.expire(now);
    // Every packet runs the timers: nothing due is the usual answer, and costs no iterator.
    if (!gone.length) return gone;
    for (let i = 0; i < gone.length; i++) {
      const c = gone[i]!;
      if (c.nfct && !c.template) this.conntrackDrops.push(c);
    }
    if (this.trash.size) {
      for (const [k, d] of this.trash) if (!this.conns.references(d)) this.trash.delete(k);
    }
    return gone;
  }

  /**
   * IPVS's functions on one hook (hook.ts's ipvsHook). The walker calls IPVS through the table it
   * finds on the node, so a node without IPVS (iptables mode) never loads this code.
   */
  hook(hook: IpvsHookName, p: Packet, now: number, opts?: IpvsHookOptions): IpvsHookResult {
    return ipvsHook(this, hook, p, now, opts);
  }

  /** The connection timers due before a packet enters the node (hook.ts's ipvsTimers). */
  timers(conntrack: ConntrackTable, now: number): number {
    return ipvsTimers(this, conntrack, now);
  }
}

function sameFlags(a: ReadonlySet<string>, b: readonly string[]): boolean {
  if (a.size !== b.length) return false;
  for (const f of b) if (!a.has(f)) return false;
  return true;
}

/** The checks ipvsadm and the kernel make on a service spec. */
function checkSpec(s: IpvsServiceSpec): void {
  const where = `ipvs virtual service ${s.protocol} ${s.vip.text}:${s.port}`;
  if (!Number.isInteger(s.port) || s.port < 0 || s.port > 65535)
    throw new KpathError(ErrorCodes.INVALID, `${where}: port must be 0..65535`);
  if (s.persistence) {
    const max = s.vip.family === 4 ? 32 : 128;
    if (!Number.isInteger(s.persistence.timeoutSeconds) || s.persistence.timeoutSeconds < 1)
      throw new KpathError(
        ErrorCodes.INVALID,
        `${where}: persistence timeout must be a positive number of seconds`,
      );
    if (
      !Number.isInteger(s.persistence.netmaskBits) ||
      s.persistence.netmaskBits < 0 ||
      s.persistence.netmaskBits > max
    )
      throw new KpathError(
        ErrorCodes.INVALID,
        `${where}: persistence netmask must be a prefix length 0..${max}`,
      );
  }
  const seen = new Set<string>();
  for (const d of s.destinations) {
    const k = destKey(d.ip, d.port);
    if (seen.has(k)) throw new KpathError(ErrorCodes.INVALID, `${where}: real server ${k} listed twice`);
    seen.add(k);
    if (d.ip.family !== s.vip.family)
      throw new KpathError(
        ErrorCodes.INVALID,
        `${where}: real server ${d.ip.text} is not the service's address family`,
      );
    if (!Number.isInteger(d.weight) || d.weight < 0 || d.weight > 65535)
      throw new KpathError(
        ErrorCodes.INVALID,
        `${where}: real server ${k} weight must be 0..65535 (ipvsadm -w)`,
      );
    if (!Number.isInteger(d.port) || d.port < 0 || d.port > 65535)
      throw new KpathError(ErrorCodes.INVALID, `${where}: real server port must be 0..65535`);
  }
}
