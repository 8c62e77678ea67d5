/**
 * ipvsadm's output, exactly (ipvsadm.c print_title / print_service_entry / print_conn; libipvs
 * ipvs_cmp_services / ipvs_cmp_dests for the order):
 *
 *   ipvsadm -Ln            renderIpvsadmList(table)
 *   ipvsadm -Ln --stats    renderIpvsadmList(table, { stats: true })
 *   ipvsadm -Ln --persistent-conn / --thresholds
 *   ipvsadm-save -n        renderIpvsadmSave(table)   (= ipvsadm -Sn, the input of ipvsadm -R)
 *   ipvsadm -Lnc           renderIpvsadmConnections(table, now)
 *   ipvsadm -L --timeout   renderIpvsadmTimeouts(table)
 *
 * plus ipvsJson, a stable JSON shape of the same data. Services and real servers are sorted as
 * ipvsadm sorts them (address family, protocol number, address, port; the address compared as the
 * signed 32-bit difference of host-order words, as libipvs does). ipvsadm -Lnc prints
 * /proc/net/ip_vs_conn in hash-table order; kpath prints creation order.
 */
import type { IP } from '../addr.js';
import type { IpvsConn } from './conn.js';
import type { IpvsDest, IpvsStats } from './dest.js';
import type { IpvsService } from './service.js';
import type { IpvsTable } from './table.js';
import type { IpvsProtocol } from './types.js';

export const IPVS_VERSION = '1.2.1';

const PROTO_NUMBER: Record<IpvsProtocol, number> = { TCP: 6, UDP: 17, SCTP: 132 };

function words(ip: IP): number[] {
  if (ip.family === 4) return [ip.n];
  const b = ip.big;
  return [96n, 64n, 32n, 0n].map((s) => Number((b >> s) & 0xffffffffn));
}

function cmpAddr(a: IP, b: IP): number {
  const wa = words(a);
  const wb = words(b);
  for (let i = 0; i < wa.length; i++) {
    const r = (wa[i]! - wb[i]!) | 0;
    if (r !== 0) return r;
  }
  return 0;
}

/** ipvs_cmp_services. */
export function compareServices(a: IpvsService, b: IpvsService): number {
  return (
    a.vip.family - b.vip.family ||
    PROTO_NUMBER[a.protocol] - PROTO_NUMBER[b.protocol] ||
    cmpAddr(a.vip, b.vip) ||
    a.port - b.port
  );
}

/** ipvs_cmp_dests. */
export function compareDests(a: IpvsDest, b: IpvsDest): number {
  return a.ip.family - b.ip.family || cmpAddr(a.ip, b.ip) || a.port - b.port;
}

function sortedServices(table: IpvsTable): IpvsService[] {
  return [...table.services.values()].sort(compareServices);
}

function sortedDests(s: IpvsService): IpvsDest[] {
  return [...s.dests].sort(compareDests);
}

/** addrport_to_anyname with FMT_NUMERIC. */
function addrPort(ip: IP, port: number): string {
  return ip.family === 6 ? `[${ip.text}]:${port}` : `${ip.text}:${port}`;
}

function padEnd(s: string, n: number): string {
  return s.length >= n ? s : s + ' '.repeat(n - s.length);
}

function padStart(s: string, n: number): string {
  return s.length >= n ? s : ' '.repeat(n - s.length) + s;
}

/** print_largenum without --exact: 9 columns, then K/M/G/T above 10^8. */
function largeNum(i: number): string {
  if (i < 1e8) return padStart(String(i), 9);
  if (i < 1e9) return `${padStart(String(Math.floor(i / 1e3)), 8)}K`;
  if (i < 1e11) return `${padStart(String(Math.floor(i / 1e6)), 8)}M`;
  if (i < 1e14) return `${padStart(String(Math.floor(i / 1e9)), 8)}G`;
  return `${padStart(String(Math.floor(i / 1e12)), 8)}T`;
}

/** print_sched_flags: the flag names of the scheduler, comma separated. */
function schedFlags(s: IpvsService): string {
  const f = s.flags;
  const out: string[] = [];
  if (s.scheduler === 'sh' || s.scheduler === 'mh') {
    const p = s.scheduler;
    if (f.has(`${p}-fallback` as 'sh-fallback')) out.push(`${p}-fallback`);
    if (f.has(`${p}-port` as 'sh-port')) out.push(`${p}-port`);
  } else {
    // Flags named for another scheduler print as the generic bits they are.
    if (f.has('sh-fallback') || f.has('mh-fallback')) out.push('flag-1');
    if (f.has('sh-port') || f.has('mh-port')) out.push('flag-2');
  }
  return out.join(',');
}

function v4Mask(bits: number): string {
  const m = bits === 0 ? 0 : (0xffffffff << (32 - bits)) >>> 0;
  return `${m >>> 24}.${(m >>> 16) & 255}.${(m >>> 8) & 255}.${m & 255}`;
}

function maskText(s: IpvsService): string | undefined {
  const p = s.persistence;
  if (!p) return undefined;
  if (s.vip.family === 4) return p.netmaskBits === 32 ? undefined : v4Mask(p.netmaskBits);
  return p.netmaskBits === 128 ? undefined : String(p.netmaskBits);
}

function listName(s: IpvsService): string {
  const name = `${s.protocol}  ${addrPort(s.vip, s.port)}`;
  return s.vip.family === 4 ? name.slice(0, 33) : name;
}

function ruleName(s: IpvsService): string {
  const sw = s.protocol === 'TCP' ? '-t' : s.protocol === 'UDP' ? '-u' : '--sctp-service';
  return `${sw} ${addrPort(s.vip, s.port)}`;
}

function destName(s: IpvsService, d: IpvsDest): string {
  const n = addrPort(d.ip, d.port);
  return s.vip.family === 4 ? n.slice(0, 28) : n;
}

const FWD_SWITCH = { Masq: '-m', Tunnel: '-i', Route: '-g' } as const;

export interface ListOptions {
  /** --stats */
  readonly stats?: boolean;
  /** --thresholds */
  readonly thresholds?: boolean;
  /** --persistent-conn */
  readonly persistentConn?: boolean;
}

/** `ipvsadm -Ln` (and its --stats, --thresholds, --persistent-conn variants). */
export function renderIpvsadmList(table: IpvsTable, opts: ListOptions = {}): string {
  const out: string[] = [`IP Virtual Server version ${IPVS_VERSION} (size=${table.connTabSize})`];
  const head = padEnd('Prot LocalAddress:Port', 33);
  if (opts.stats)
    out.push(
      `${head} ${['Conns', 'InPkts', 'OutPkts', 'InBytes', 'OutBytes'].map((h) => padStart(h, 8)).join(' ')}`,
      '  -> RemoteAddress:Port',
    );
  else if (opts.thresholds)
    out.push(
      `${head} ${['Uthreshold', 'Lthreshold', 'ActiveConn', 'InActConn'].map((h) => padEnd(h, 10)).join(' ')}`,
      '  -> RemoteAddress:Port',
    );
  else if (opts.persistentConn)
    out.push(
      `${head} ${padEnd('Weight', 9)} ${padEnd('PersistConn', 11)} ${padEnd('ActiveConn', 10)} ${padEnd('InActConn', 10)}`,
      '  -> RemoteAddress:Port',
    );
  else
    out.push(
      'Prot LocalAddress:Port Scheduler Flags',
      '  -> RemoteAddress:Port           Forward Weight ActiveConn InActConn',
    );
  for (const s of sortedServices(table)) {
    const name = listName(s);
    if (opts.stats) out.push(padEnd(name, 33) + statsCols(s.stats));
    else {
      let line = `${name} ${s.scheduler}`;
      const f = schedFlags(s);
      if (f) line += ` (${f})`;
      if (s.persistence) {
        line += ` persistent ${s.persistence.timeoutSeconds}`;
        const m = maskText(s);
        if (m) line += ` mask ${m}`;
      }
      out.push(line);
    }
    for (const d of sortedDests(s)) {
      const dn = padEnd(destName(s, d), 28);
      if (opts.stats) out.push(`  -> ${dn}${statsCols(d.stats)}`);
      else if (opts.thresholds)
        out.push(
          `  -> ${dn} ${[d.upperThreshold, d.lowerThreshold, d.activeConns, d.inactConns].map((n) => padEnd(String(n), 10)).join(' ')}`,
        );
      else if (opts.persistentConn)
        out.push(
          `  -> ${dn} ${padEnd(String(d.weight), 9)} ${padEnd(String(d.persistConns), 11)} ${padEnd(String(d.activeConns), 10)} ${padEnd(String(d.inactConns), 10)}`,
        );
      else
        out.push(
          `  -> ${dn} ${padEnd(d.forward, 7)} ${padEnd(String(d.weight), 6)} ${padEnd(String(d.activeConns), 10)} ${padEnd(String(d.inactConns), 10)}`,
        );
    }
  }
  return `${out.join('\n')}\n`;
}

function statsCols(st: IpvsStats): string {
  return (
    largeNum(st.conns) +
    largeNum(st.inpkts) +
    largeNum(st.outpkts) +
    largeNum(st.inbytes) +
    largeNum(st.outbytes)
  );
}

/** `ipvsadm-save -n` (ipvsadm -Sn): one -A line per service, then one -a line per real server. */
export function renderIpvsadmSave(table: IpvsTable): string {
  const out: string[] = [];
  for (const s of sortedServices(table)) {
    const name = ruleName(s);
    let line = `-A ${name} -s ${s.scheduler}`;
    const f = schedFlags(s);
    if (f) line += ` -b ${f}`;
    if (s.persistence) {
      line += ` -p ${s.persistence.timeoutSeconds}`;
      const m = maskText(s);
      if (m) line += ` -M ${m}`;
    }
    out.push(line);
    for (const d of sortedDests(s))
      out.push(`-a ${name} -r ${addrPort(d.ip, d.port)} ${FWD_SWITCH[d.forward]} -w ${d.weight}`);
  }
  return out.length ? `${out.join('\n')}\n` : '';
}

/** The `expire` column: remaining seconds as mm:ss (minutes may pass 99). */
function expireText(c: IpvsConn, now: number): string {
  const s = Math.max(0, Math.floor((c.expiresAt - now) / 1000));
  const mm = Math.floor(s / 60);
  const ss = s % 60;
  return `${String(mm).padStart(2, '0')}:${String(ss).padStart(2, '0')}`;
}

/** `ipvsadm -Lnc`. */
export function renderIpvsadmConnections(table: IpvsTable, now: number): string {
  table.expire(now);
  const out = [
    'IPVS connection entries',
    `pro expire ${padEnd('state', 11)} ${padEnd('source', 18)} ${padEnd('virtual', 18)} destination`,
  ];
  // The kernel's hash-table order, as /proc/net/ip_vs_conn (conn-hash.ts), not creation order.
  for (const c of table.conns.listed(table.connHashKeys, table.connTabSize)) {
    out.push(
      `${padEnd(c.protocol, 3)} ${padEnd(expireText(c, now), 6)} ${padEnd(c.state, 11)} ${padEnd(addrPort(c.caddr, c.cport), 18)} ${padEnd(addrPort(c.vaddr, c.vport), 18)} ${addrPort(c.daddr, c.dport)}`,
    );
  }
  return `${out.join('\n')}\n`;
}

/** `ipvsadm -L --timeout`. */
export function renderIpvsadmTimeouts(table: IpvsTable): string {
  const t = table.timeouts();
  return `Timeout (tcp tcpfin udp): ${t.tcp} ${t.tcpFin} ${t.udp}\n`;
}

export interface IpvsDestJson {
  readonly address: string;
  readonly port: number;
  readonly forward: string;
  readonly weight: number;
  readonly activeConns: number;
  readonly inactConns: number;
  readonly persistConns: number;
  readonly upperThreshold: number;
  readonly lowerThreshold: number;
  readonly stats: IpvsStats;
}

export interface IpvsServiceJson {
  readonly protocol: IpvsProtocol;
  readonly address: string;
  readonly port: number;
  readonly scheduler: string;
  readonly flags: readonly string[];
  readonly persistence: { readonly timeoutSeconds: number; readonly netmaskBits: number } | null;
  /** Sorted as ipvsadm lists them. */
  readonly destinations: readonly IpvsDestJson[];
  /** The kernel's list order (most recently added first), which rr, wrr, sh, dh and mh follow. */
  readonly kernelOrder: readonly string[];
  readonly stats: IpvsStats;
}

export interface IpvsConnJson {
  readonly id: number;
  readonly protocol: IpvsProtocol;
  readonly state: string;
  readonly template: boolean;
  readonly expiresIn: number;
  readonly client: string;
  readonly virtual: string;
  readonly destination: string;
  readonly controls: number;
}

export interface IpvsJson {
  readonly version: string;
  readonly size: number;
  readonly timeouts: { readonly tcp: number; readonly tcpFin: number; readonly udp: number };
  readonly services: readonly IpvsServiceJson[];
  readonly connections?: readonly IpvsConnJson[];
}

/** The JSON shape of `kpath ipvs -o json` (services; connections when `now` is given). */
export function ipvsJson(table: IpvsTable, opts: { connectionsAt?: number } = {}): IpvsJson {
  const services = sortedServices(table).map(
    (s): IpvsServiceJson => ({
      protocol: s.protocol,
      address: s.vip.text,
      port: s.port,
      scheduler: s.scheduler,
      flags: [...s.flags],
      persistence: s.persistence
        ? { timeoutSeconds: s.persistence.timeoutSeconds, netmaskBits: s.persistence.netmaskBits }
        : null,
      destinations: sortedDests(s).map((d) => ({
        address: d.ip.text,
        port: d.port,
        forward: d.forward,
        weight: d.weight,
        activeConns: d.activeConns,
        inactConns: d.inactConns,
        persistConns: d.persistConns,
        upperThreshold: d.upperThreshold,
        lowerThreshold: d.lowerThreshold,
        stats: { ...d.stats },
      })),
      kernelOrder: s.dests.map((d) => d.name),
      stats: { ...s.stats },
    }),
  );
  const now = opts.connectionsAt;
  if (now === undefined)
    return { version: IPVS_VERSION, size: table.connTabSize, timeouts: table.timeouts(), services };
  table.expire(now);
  const connections = table.conns.list().map(
    (c): IpvsConnJson => ({
      id: c.id,
      protocol: c.protocol,
      state: c.state,
      template: c.template,
      expiresIn: Math.max(0, Math.floor((c.expiresAt - now) / 1000)),
      client: addrPort(c.caddr, c.cport),
      virtual: addrPort(c.vaddr, c.vport),
      destination: addrPort(c.daddr, c.dport),
      controls: c.nControl,
    }),
  );
  return {
    version: IPVS_VERSION,
    size: table.connTabSize,
    timeouts: table.timeouts(),
    services,
    connections,
  };
}
