/**
 * One node's iptables ruleset as kube-proxy (iptables mode, ~v1.31) writes it: the iptables-restore
 * payload (`*filter` then `*nat`, fed to `iptables-restore --noflush --counters`), the built-in-chain
 * jumps it inserts with `iptables -I`, and the state a later partial sync starts from.
 *
 * Versions: the rule shapes are those of 1.28-1.33 (KUBE-PROXY-FIREWALL and filter-table DROPs since
 * 1.25, KUBE-EXT/KUBE-SVL since 1.24, partial sync GA in 1.28, nfacct counters since 1.31 and only
 * with `nfacct: true`). Service ports are written in name order; kube-proxy walks a Go map, so its
 * service order differs run to run, while everything inside a service is in kube-proxy's order.
 */
import type { ClusterSnapshot } from '../../netmodel/cluster/snapshot.js';
import type { ClusterChange } from '../../netmodel/cluster/store.js';
import { categorizeEndpoints } from '../../netmodel/service/categorize.js';
import { type ServicePortView, servicePortViews, servicePortViewsOf } from '../../netmodel/service/ports.js';
import { type NodeContext, nodeContext, type RenderOptions } from './context.js';
import { canaryChains, ensuredChains, type JumpRule, jumpsInFinalOrder, type Table } from './jumps.js';
import { isServiceChainName } from './names.js';
import { renderServicePort, type ServicePortRules } from './service-rules.js';

/** What a later partial sync needs to know about the ruleset a sync left behind. */
export interface SyncState {
  readonly nodeName: string;
  /** Every nat chain present after the sync (fixed chains and per-service chains, stale ones included if not cleaned). */
  readonly natChains: ReadonlySet<string>;
  /** Per service (`ns/name`): a fingerprint of everything its chains are made from. */
  readonly fingerprints: ReadonlyMap<string, string>;
  readonly largeClusterMode: boolean;
  /** Every service port's rules, in write order (reused by incremental partial syncs). */
  readonly ports: readonly ServicePortRules[];
  /** Endpoints summed over service ports (decides large-cluster mode). */
  readonly totalEndpoints: number;
  /** Stale service chains still present because a sync skipped cleanup (large-cluster mode). */
  readonly stale: ReadonlySet<string>;
}

/** A SyncState whose chain set and fingerprints are derived from the ports on first use. */
class DerivedState implements SyncState {
  private chainsCache: Set<string> | undefined;
  private fpCache: Map<string, string> | undefined;
  constructor(
    readonly nodeName: string,
    readonly ports: readonly ServicePortRules[],
    /** Fingerprint of each port, parallel to `ports`; computed on first use (see `fingerprintAt`). */
    readonly portFingerprints: (string | undefined)[],
    readonly totalEndpoints: number,
    readonly largeClusterMode: boolean,
    readonly stale: ReadonlySet<string>,
  ) {}
  get natChains(): ReadonlySet<string> {
    if (!this.chainsCache) {
      const set = new Set<string>(FIXED_NAT);
      for (const p of this.ports) for (const ch of p.natChains) set.add(ch);
      for (const ch of this.stale) set.add(ch);
      this.chainsCache = set;
    }
    return this.chainsCache;
  }
  get fingerprints(): ReadonlyMap<string, string> {
    if (!this.fpCache) {
      const m = new Map<string, string>();
      this.ports.forEach((p, i) => {
        m.set(
          p.view.serviceKey,
          (m.get(p.view.serviceKey) ?? '') + fingerprintAt(this.ports, this.portFingerprints, i),
        );
      });
      this.fpCache = m;
    }
    return this.fpCache;
  }
}

export interface NodeRender {
  /** The full iptables-restore payload: `*filter ... COMMIT` then `*nat ... COMMIT`. */
  readonly restore: string;
  /** The filter and nat sections alone (each ends with COMMIT). */
  readonly filter: string;
  readonly nat: string;
  /** Built-in-chain jumps in their final order (see jumps.ts). */
  readonly jumps: readonly JumpRule[];
  /** Chains kube-proxy creates with `-N` outside the restore: jump targets and the canaries. */
  readonly setupChains: readonly { table: Table; chain: string }[];
  readonly canaries: readonly { table: Table; chain: string }[];
  /** Chains declared in the payload, in declaration order. */
  readonly chains: { readonly filter: readonly string[]; readonly nat: readonly string[] };
  readonly services: readonly ServicePortRules[];
  readonly largeClusterMode: boolean;
  readonly totalEndpoints: number;
  readonly mark: string;
  /** Sysctls kube-proxy sets for this ruleset to work. */
  readonly sysctls: readonly { name: string; value: number; why: string }[];
  readonly state: SyncState;
}

export interface PartialSyncRender {
  /** The iptables-restore payload of the partial sync. */
  readonly restore: string;
  /** Services (`ns/name`) whose chains were rewritten. */
  readonly updatedServices: readonly string[];
  /** Stale chains flushed and deleted (`:CHAIN - [0:0]` plus `-X CHAIN`). */
  readonly deletedChains: readonly string[];
  readonly state: SyncState;
  readonly largeClusterMode: boolean;
}

const FIXED_FILTER = [
  'KUBE-SERVICES',
  'KUBE-EXTERNAL-SERVICES',
  'KUBE-FORWARD',
  'KUBE-NODEPORTS',
  'KUBE-PROXY-FIREWALL',
];
const FIXED_NAT = ['KUBE-SERVICES', 'KUBE-NODEPORTS', 'KUBE-POSTROUTING', 'KUBE-MARK-MASQ'];
const NODEPORTS_COMMENT =
  '-m comment --comment "kubernetes service nodeports; NOTE: this must be the last rule in this chain"';

interface Computed {
  ctx: NodeContext;
  ports: ServicePortRules[];
  largeClusterMode: boolean;
  totalEndpoints: number;
  /**
   * Fingerprint of each port, parallel to `ports`; undefined until needed (only a partial sync without
   * a hint compares them), then filled in by `fingerprintAt`.
   */
  fps: (string | undefined)[];
}

function fingerprintAt(ports: readonly ServicePortRules[], fps: (string | undefined)[], i: number): string {
  let fp = fps[i];
  if (fp === undefined) {
    fp = fingerprintOf(ports[i]!.view);
    fps[i] = fp;
  }
  return fp;
}

function fingerprintOf(v: ServicePortView): string {
  return JSON.stringify([
    v.name,
    v.protocol,
    v.clusterIP.text,
    v.port,
    v.nodePort,
    v.externalIPs.map((i) => i.text),
    v.loadBalancerVIPs.map((i) => i.text),
    v.loadBalancerSourceRanges.map((p) => p.text),
    v.healthCheckNodePort,
    v.affinitySeconds,
    v.internalPolicyLocal,
    v.externalPolicyLocal,
    v.endpoints.map((e) => [e.text, e.ready, e.serving, e.terminating, e.isLocal]),
  ]);
}

function compute(snapshot: ClusterSnapshot, nodeName: string, opts: RenderOptions): Computed {
  const ctx = nodeContext(snapshot, nodeName, opts);
  const views = servicePortViews(snapshot, nodeName, ctx.family);
  let totalEndpoints = 0;
  for (const v of views) totalEndpoints += v.endpoints.length;
  const largeClusterMode = totalEndpoints > ctx.largeClusterThreshold;
  const ports = views.map((v) => renderServicePort(ctx, v, categorizeEndpoints(v), largeClusterMode));
  return { ctx, ports, largeClusterMode, totalEndpoints, fps: new Array<string | undefined>(ports.length) };
}

const byPortName = (a: ServicePortView, b: ServicePortView) =>
  a.name < b.name ? -1 : a.name > b.name ? 1 : a.protocol < b.protocol ? -1 : a.protocol > b.protocol ? 1 : 0;

/**
 * Recompute only the services in `changed` (`ns/name`), reusing the previous sync's rules for the
 * rest: O(changed) rendering plus one pass to lay the payload out.
 */
function computeIncremental(
  snapshot: ClusterSnapshot,
  nodeName: string,
  opts: RenderOptions,
  state: SyncState,
  changed: ReadonlySet<string>,
): Computed {
  const ctx = nodeContext(snapshot, nodeName, opts);
  const fresh: ServicePortView[] = [];
  for (const key of changed) {
    const slash = key.indexOf('/');
    const svc = snapshot.service(key.slice(0, slash), key.slice(slash + 1));
    if (svc) fresh.push(...servicePortViewsOf(snapshot, svc, nodeName, ctx.family));
  }
  fresh.sort(byPortName);
  let totalEndpoints = state.totalEndpoints;
  for (const p of state.ports) if (changed.has(p.view.serviceKey)) totalEndpoints -= p.view.endpoints.length;
  for (const v of fresh) totalEndpoints += v.endpoints.length;
  const largeClusterMode = totalEndpoints > ctx.largeClusterThreshold;
  const rendered = fresh.map((v) => renderServicePort(ctx, v, categorizeEndpoints(v), largeClusterMode));
  const prevFps = state instanceof DerivedState ? state.portFingerprints : undefined;
  // Merge the kept ports (already in order) with the fresh ones (sorted). Fingerprints of kept ports
  // carry over when known; the rest are computed when first needed.
  const ports: ServicePortRules[] = [];
  const fps: (string | undefined)[] = [];
  let j = 0;
  state.ports.forEach((p, i) => {
    if (changed.has(p.view.serviceKey)) return;
    while (j < rendered.length && byPortName(rendered[j]!.view, p.view) < 0) {
      ports.push(rendered[j]!);
      fps.push(undefined);
      j++;
    }
    ports.push(p);
    fps.push(prevFps?.[i]);
  });
  for (; j < rendered.length; j++) {
    ports.push(rendered[j]!);
    fps.push(undefined);
  }
  return { ctx, ports, largeClusterMode, totalEndpoints, fps };
}

interface Assembled {
  filter: string;
  nat: string;
  filterChains: string[];
  natChains: string[];
}

/** Lay out the payload in kube-proxy's order; `writeChains(serviceKey)` false skips a service's chains. */
function assemble(
  c: Computed,
  writeChains: (serviceKey: string) => boolean,
  deleted: readonly string[],
  listChains = true,
): Assembled {
  const { ctx } = c;
  const filterChains = [...FIXED_FILTER];
  const natChains = [...FIXED_NAT];
  let filterRules = '';
  let natChainText = '';
  let natRules =
    `-A KUBE-POSTROUTING -m mark ! --mark ${ctx.mark}/${ctx.mark} -j RETURN\n` +
    `-A KUBE-POSTROUTING -j MARK --xor-mark ${ctx.mark}\n` +
    `-A KUBE-POSTROUTING -m comment --comment "kubernetes service traffic requiring SNAT" -j MASQUERADE${ctx.randomFully ? ' --random-fully' : ''}\n` +
    `-A KUBE-MARK-MASQ -j MARK --or-mark ${ctx.mark}\n`;
  if (ctx.family === 4 && ctx.localhostNodePorts) {
    filterChains.push('KUBE-FIREWALL');
    filterRules +=
      '-A KUBE-FIREWALL -m comment --comment "block incoming localnet connections" -d 127.0.0.0/8 ! -s 127.0.0.0/8 -m conntrack ! --ctstate RELATED,ESTABLISHED,DNAT -j DROP\n';
  }

  for (const p of c.ports) {
    filterRules += p.text.filter;
    natRules += p.text.entry;
    if (writeChains(p.view.serviceKey)) {
      natChainText += p.text.chains;
      natRules += p.text.rules;
      if (listChains) for (const ch of p.natChains) natChains.push(ch);
    }
  }

  for (const ch of deleted) {
    natChains.push(ch);
    natChainText += `:${ch} - [0:0]\n`;
    natRules += `-X ${ch}\n`;
  }

  if (ctx.nodePortMatchAll) {
    let dest = '-m addrtype --dst-type LOCAL';
    if (ctx.family === 6) dest += ' ! -d ::1/128';
    else if (!ctx.localhostNodePorts) dest += ' ! -d 127.0.0.0/8';
    natRules += `-A KUBE-SERVICES ${NODEPORTS_COMMENT} ${dest} -j KUBE-NODEPORTS\n`;
  } else {
    for (const ip of ctx.nodePortIPs)
      natRules += `-A KUBE-SERVICES ${NODEPORTS_COMMENT} -d ${ip.text} -j KUBE-NODEPORTS\n`;
  }

  if (!ctx.conntrackTCPBeLiberal) {
    const acct = ctx.nfacct ? ' -m nfacct --nfacct-name ct_state_invalid_dropped_pkts' : '';
    filterRules += `-A KUBE-FORWARD -m conntrack --ctstate INVALID${acct} -j DROP\n`;
  }
  filterRules += `-A KUBE-FORWARD -m comment --comment "kubernetes forwarding rules" -m mark --mark ${ctx.mark}/${ctx.mark} -j ACCEPT\n`;
  filterRules +=
    '-A KUBE-FORWARD -m comment --comment "kubernetes forwarding conntrack rule" -m conntrack --ctstate RELATED,ESTABLISHED -j ACCEPT\n';

  const fixed = (chains: readonly string[]) => chains.map((ch) => `:${ch} - [0:0]\n`).join('');
  return {
    filter: `*filter\n${fixed(filterChains)}${filterRules}COMMIT\n`,
    nat: `*nat\n${fixed(FIXED_NAT)}${natChainText}${natRules}COMMIT\n`,
    filterChains,
    natChains,
  };
}

function sysctlsOf(ctx: NodeContext): NodeRender['sysctls'] {
  const out: { name: string; value: number; why: string }[] = [];
  if (ctx.localhostNodePorts) {
    out.push({
      name: 'net.ipv4.conf.all.route_localnet',
      value: 1,
      why: 'NodePorts answer on 127.0.0.1; KUBE-FIREWALL then drops non-loopback sources to 127.0.0.0/8 (issue 90259)',
    });
  }
  return out;
}

/** A full sync of `nodeName`'s rules for `snapshot`. */
export function renderNode(
  snapshot: ClusterSnapshot,
  nodeName: string,
  opts: RenderOptions = {},
): NodeRender {
  const c = compute(snapshot, nodeName, opts);
  const a = assemble(c, () => true, []);
  return {
    restore: a.filter + a.nat,
    filter: a.filter,
    nat: a.nat,
    jumps: jumpsInFinalOrder(c.ctx.kubeletJumpsFirst),
    setupChains: ensuredChains(),
    canaries: canaryChains(),
    chains: { filter: a.filterChains, nat: a.natChains },
    services: c.ports,
    largeClusterMode: c.largeClusterMode,
    totalEndpoints: c.totalEndpoints,
    mark: c.ctx.mark,
    sysctls: sysctlsOf(c.ctx),
    state: new DerivedState(nodeName, c.ports, c.fps, c.totalEndpoints, c.largeClusterMode, new Set()),
  };
}

export interface PartialSyncOptions extends RenderOptions {
  /**
   * Delete stale chains in this sync. kube-proxy always does outside large-cluster mode; in it, at most
   * once per syncPeriod. Default true.
   */
  readonly cleanupStaleChains?: boolean;
  /**
   * The services (`ns/name`) whose Service or EndpointSlices changed between `prev` and `next` (see
   * `changedServicesOf`). When given with `prevState`, only those are recomputed, which is what makes a
   * partial sync cheap; when absent, every service is recomputed and compared by fingerprint.
   */
  readonly changedServices?: Iterable<string>;
}

/** The services a store change touches: changed Services, and the services of changed EndpointSlices. */
export function changedServicesOf(change: ClusterChange): string[] {
  const out = new Set<string>();
  for (const k of [...change.services.added, ...change.services.removed, ...change.services.changed])
    out.add(k);
  const sliceService = (snap: ClusterSnapshot | undefined, key: string) => {
    const slash = key.indexOf('/');
    const ns = key.slice(0, slash);
    const name = key.slice(slash + 1);
    const s = snap?.endpointSlices.find((e) => e.meta.namespace === ns && e.meta.name === name);
    return s ? `${ns}/${s.serviceName}` : undefined;
  };
  const es = change.endpointSlices;
  for (const k of [...es.added, ...es.changed]) {
    const svc = sliceService(change.to, k);
    if (svc) out.add(svc);
  }
  for (const k of [...es.removed, ...es.changed]) {
    const svc = sliceService(change.from, k);
    if (svc) out.add(svc);
  }
  return [...out].sort();
}

/**
 * The payload of a partial sync (kube-proxy >= 1.28, MinimizeIPTablesRestore): filter and the fixed nat
 * chains in full, per-service chains only for services whose Service or endpoints changed since
 * `prevState` (all ports of a changed service), and `:CHAIN`/`-X CHAIN` for chains no longer used.
 * Without `prevState`, the previous state is a full sync of `prev`.
 */
export function renderPartialSync(
  prev: ClusterSnapshot,
  next: ClusterSnapshot,
  nodeName: string,
  prevState?: SyncState,
  opts: PartialSyncOptions = {},
): PartialSyncRender {
  const before = prevState ?? renderNode(prev, nodeName, opts).state;
  const hint = opts.changedServices ? new Set(opts.changedServices) : undefined;
  const incremental = hint !== undefined && prevState !== undefined;
  const c = incremental
    ? computeIncremental(next, nodeName, opts, before, hint)
    : compute(next, nodeName, opts);
  const cleanup = opts.cleanupStaleChains ?? true;

  const updated = new Set<string>();
  const gone = new Set<string>();
  if (incremental) {
    for (const p of c.ports) if (hint.has(p.view.serviceKey)) updated.add(p.view.serviceKey);
    // Chains of unchanged services are unchanged; stale ones can only come from changed services.
    const now = new Set<string>();
    for (const p of c.ports) if (hint.has(p.view.serviceKey)) for (const ch of p.natChains) now.add(ch);
    for (const p of before.ports)
      if (hint.has(p.view.serviceKey)) for (const ch of p.natChains) if (!now.has(ch)) gone.add(ch);
  } else {
    const fps = new Map<string, string>();
    c.ports.forEach((p, i) => {
      fps.set(p.view.serviceKey, (fps.get(p.view.serviceKey) ?? '') + fingerprintAt(c.ports, c.fps, i));
    });
    for (const [key, fp] of fps) if (before.fingerprints.get(key) !== fp) updated.add(key);
    const active = new Set<string>();
    for (const p of c.ports) for (const ch of p.natChains) active.add(ch);
    for (const ch of before.natChains) if (!active.has(ch) && isServiceChainName(ch)) gone.add(ch);
  }
  for (const ch of before.stale) gone.add(ch);
  const deleted = cleanup ? [...gone].sort() : [];
  const a = assemble(c, (key) => updated.has(key), deleted, false);
  return {
    restore: a.filter + a.nat,
    updatedServices: [...updated].sort(),
    deletedChains: deleted,
    largeClusterMode: c.largeClusterMode,
    state: new DerivedState(
      nodeName,
      c.ports,
      c.fps,
      c.totalEndpoints,
      c.largeClusterMode,
      cleanup ? new Set() : gone,
    ),
  };
}
