/**
 * The userspace proxier's load balancer (kube-proxy before v1.26, pkg/proxy/userspace/roundrobin.go),
 * restated:
 * - per service port, the eligible endpoints as `ip:port`; when the set changes the list is shuffled
 *   and the index reset; an unchanged set (compared sorted) keeps both;
 * - round-robin over that list; with ClientIP affinity a client IP that chose an endpoint less than
 *   timeoutSeconds ago gets it again (and the record is refreshed); affinity records pointing at removed
 *   endpoints are dropped; a retry after a failed dial bypasses affinity and overwrites the record;
 * - the connection to the endpoint is made by the proxy process, so the endpoint sees the node's address.
 * Four dial attempts with 250 ms, 500 ms, 1 s and 2 s timeouts (proxysocket.go).
 */
import { LRUCache } from 'lru-cache';
import { parseIP } from '../../../netmodel/addr.js';
import type { Clock } from '../../../netmodel/clock.js';
import type { ClusterSnapshot, Protocol } from '../../../netmodel/cluster/index.js';
import { type Rng, shuffled } from '../../../netmodel/rng.js';
import { categorizeEndpoints, servicePortViewsOf } from '../../../netmodel/service/index.js';
import type { AffinityEntry, Decision, FlowRequest, ModeEndpoints, ProxyMode } from './types.js';

export const USERSPACE_DIAL_TIMEOUTS_MS: readonly number[] = Object.freeze([250, 500, 1000, 2000]);
/** Records kept per service port at most (a bound on memory, not a kube-proxy setting). */
const MAX_AFFINITY_RECORDS = 65536;

interface Balancer {
  readonly protocol: Protocol;
  endpoints: string[];
  sortedKey: string;
  index: number;
  affinityType: 'None' | 'ClientIP';
  timeoutSeconds: number;
  sticky: LRUCache<string, string> | undefined;
}

export interface UserspaceOptions {
  readonly clock: Clock;
  readonly rng: Rng;
}

export class UserspaceMode implements ProxyMode {
  readonly name = 'userspace' as const;
  readonly dialTimeoutsMs = USERSPACE_DIAL_TIMEOUTS_MS;
  private readonly balancers = new Map<string, Balancer>();
  private nodeIPs = new Map<string, string>();
  /** source -> endpoint -> the (immutable) decision, so a connection parses no address. */
  private forwards = new Map<string, Map<string, Decision>>();

  constructor(private readonly opts: UserspaceOptions) {}

  sync(snap: ClusterSnapshot): void {
    this.forwards = new Map();
    this.nodeIPs = new Map(
      snap.nodes.flatMap((n) => {
        const ip = n.internalIPs.find((x) => x.family === 4);
        return ip ? [[n.meta.name, ip.text] as const] : [];
      }),
    );
    const live = new Set<string>();
    for (const svc of snap.services) {
      if (svc.type === 'ExternalName' || svc.headless) continue;
      // kube-proxy's per-port view and its one eligibility rule (ready, else serving+terminating).
      // The userspace proxier applied no traffic policy, so it takes the cluster-wide endpoints.
      const views = servicePortViewsOf(snap, svc, '', 4);
      for (const sp of svc.ports) {
        if (sp.protocol === 'SCTP') continue;
        const key = `${svc.meta.namespace}/${svc.meta.name}:${sp.name}`;
        live.add(key);
        const view = views.find((v) => v.portName === sp.name && v.protocol === sp.protocol);
        const eps = view ? categorizeEndpoints(view).clusterEndpoints.map((e) => e.text) : [];
        const sortedKey = [...eps].sort().join(',');
        let b = this.balancers.get(key);
        if (!b) {
          b = {
            protocol: sp.protocol,
            endpoints: [],
            sortedKey: '\0',
            index: 0,
            affinityType: 'None',
            timeoutSeconds: 0,
            sticky: undefined,
          };
          this.balancers.set(key, b);
        }
        if (b.affinityType !== svc.sessionAffinity || b.timeoutSeconds !== svc.affinityTimeoutSeconds) {
          b.affinityType = svc.sessionAffinity;
          b.timeoutSeconds = svc.affinityTimeoutSeconds;
          b.sticky =
            svc.sessionAffinity === 'ClientIP' ? this.newSticky(svc.affinityTimeoutSeconds) : undefined;
        }
        if (b.sortedKey !== sortedKey) {
          b.sortedKey = sortedKey;
          b.endpoints = shuffled(this.opts.rng, eps);
          b.index = 0;
          if (b.sticky) {
            if (eps.length === 0) b.sticky.clear();
            else {
              const keep = new Set(eps);
              for (const [ip, ep] of b.sticky.entries()) if (!keep.has(ep)) b.sticky.delete(ip);
            }
          }
        }
      }
    }
    for (const k of [...this.balancers.keys()]) if (!live.has(k)) this.balancers.delete(k);
  }

  private newSticky(timeoutSeconds: number): LRUCache<string, string> {
    // 0 means kube-proxy's default (3 h); the model already fills the default in.
    const ttl = (timeoutSeconds > 0 ? timeoutSeconds : 10800) * 1000;
    const clock = this.opts.clock;
    return new LRUCache<string, string>({
      max: MAX_AFFINITY_RECORDS,
      ttl,
      updateAgeOnGet: true,
      ttlResolution: 0,
      perf: { now: () => clock.now() },
    });
  }

  decide(flow: FlowRequest, attempt: number): Decision {
    const b = this.balancers.get(flow.servicePort);
    if (!b) return { kind: 'reject', reason: `missing service entry ${flow.servicePort}` };
    if (b.endpoints.length === 0) return { kind: 'reject', reason: `no endpoints for ${flow.servicePort}` };
    const source = this.nodeIPs.get(flow.entryNode);
    if (!source) return { kind: 'reject', reason: `entry node ${flow.entryNode} has no IPv4 address` };
    const clientIP = flow.client.ip.text;
    let ep: string | undefined;
    if (b.sticky && attempt === 0) ep = b.sticky.get(clientIP);
    if (!ep) {
      ep = b.endpoints[b.index % b.endpoints.length]!;
      b.index = (b.index + 1) % b.endpoints.length;
      b.sticky?.set(clientIP, ep);
    }
    return this.forwardTo(ep, source);
  }

  private forwardTo(ep: string, source: string): Decision {
    let bySource = this.forwards.get(source);
    if (!bySource) {
      bySource = new Map();
      this.forwards.set(source, bySource);
    }
    let d = bySource.get(ep);
    if (!d) {
      const colon = ep.lastIndexOf(':');
      d = Object.freeze({
        kind: 'forward',
        endpoint: Object.freeze({ ip: parseIP(ep.slice(0, colon)), port: Number(ep.slice(colon + 1)) }),
        source: parseIP(source),
      });
      bySource.set(ep, d);
    }
    return d;
  }

  affinity(): AffinityEntry[] {
    const out: AffinityEntry[] = [];
    for (const [svc, b] of this.balancers) {
      if (!b.sticky) continue;
      b.sticky.purgeStale();
      for (const [clientIP, endpoint] of b.sticky.entries()) {
        out.push({
          servicePort: svc,
          clientIP,
          endpoint,
          remainingMs: Math.max(0, b.sticky.getRemainingTTL(clientIP)),
          timeoutSeconds: b.timeoutSeconds,
        });
      }
    }
    return out.sort((a, b) => (a.servicePort + a.clientIP < b.servicePort + b.clientIP ? -1 : 1));
  }

  endpoints(): ModeEndpoints[] {
    return [...this.balancers.entries()]
      .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))
      .map(([servicePort, b]) => ({
        servicePort,
        protocol: b.protocol,
        endpoints: [...b.endpoints],
        next: b.index,
        sessionAffinity: b.affinityType,
      }));
  }

  close(): void {
    this.balancers.clear();
  }
}
