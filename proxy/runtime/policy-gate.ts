/**
 * NetworkPolicy on real connections: a ProxyMode wrapper that puts every forwarded new flow to the
 * policy evaluator, as a CNI would see its first packet: egress at the client pod (source before
 * SNAT, destination after DNAT: the endpoint), ingress at the endpoint pod (the source it sees, the
 * node's address when the flow was masqueraded).
 *
 *   mode.decide(flow) -> forward to endpoint E from source S
 *     -> egress of the client pod allows client -> E?   no: denied
 *     -> ingress of E's pod allows S -> E?              no: denied
 *     -> denied: drop (TCP: accepted, never forwarded, closed after dropHoldMs; UDP: dropped), or
 *        reject with --policy-reject (TCP reset); counted per isolating policy; listed in denials()
 *
 * A kernel mode (iptables, ipvs) asks between the walk of the flow's first packet and the rest, so
 * its emulated node is left as the drop leaves a real one: CNIs drop in filter FORWARD/OUTPUT,
 * before conntrack confirms the entry at POSTROUTING, so a SYN dropped on the entry node leaves no
 * entry (an unconfirmed entry dies with its packet); one dropped at another node's pod leaves the
 * entry node's SYN_SENT [UNREPLIED] entry, with no handshake after it.
 *
 * Only new flows are decided, so a reload that changes a policy applies to new connections and
 * established ones continue, as conntrack-based CNIs behave.
 */
import type { Logger } from 'pino';
import { Counter } from 'prom-client';
import { joinHostPort } from '../../netmodel/addr.js';
import type { Clock } from '../../netmodel/clock.js';
import type { ClusterSnapshot } from '../../netmodel/cluster/index.js';
import { type DirectionVerdict, PolicyEngine } from '../../netmodel/policy/index.js';
import type { RuntimeMetrics } from './metrics.js';
import type { Decision, FlowRequest, ProxyMode } from './modes/types.js';

/** One denied flow, as the admin API lists it. */
export interface PolicyDenial {
  /** Milliseconds since the epoch (the runtime clock). */
  readonly time: number;
  readonly protocol: string;
  readonly servicePort: string;
  readonly client: string;
  readonly endpoint: string;
  readonly direction: 'Ingress' | 'Egress';
  /** The pod whose policies denied it. */
  readonly pod: string;
  readonly policies: readonly string[];
  readonly action: 'drop' | 'reject';
  readonly reason: string;
}

export interface PolicyGateOptions {
  /** Reset denied TCP connections instead of holding them unanswered. */
  readonly reject: boolean;
  readonly clock: Clock;
  readonly metrics: RuntimeMetrics;
  readonly log: Logger;
  /** Denials kept for the admin API (oldest dropped first). */
  readonly keep?: number;
}

export const POLICY_DENIALS_KEPT = 256;

export class PolicyGate {
  private engine: PolicyEngine | undefined;
  private readonly recent: PolicyDenial[] = [];
  private readonly counter: Counter<'policy' | 'direction'>;

  constructor(private readonly opts: PolicyGateOptions) {
    this.counter = new Counter({
      name: 'kpath_policy_denials_total',
      help: 'New flows denied by NetworkPolicy, per isolating policy and direction (Ingress at the endpoint pod, Egress at the client pod)',
      labelNames: ['policy', 'direction'] as const,
      registers: [opts.metrics.registry],
    });
  }

  sync(snap: ClusterSnapshot): void {
    this.engine = new PolicyEngine(snap);
  }

  /** Recent denials, newest last. */
  denials(): PolicyDenial[] {
    return [...this.recent];
  }

  /** The verdict that denies this forward, if any. */
  check(flow: FlowRequest, d: Extract<Decision, { kind: 'forward' }>): DirectionVerdict | undefined {
    const e = this.engine;
    if (!e || e.policyCount === 0) return undefined;
    const client = flow.clientIsNodeProcess ? undefined : e.podByIP(flow.client.ip);
    const target = e.podByIP(d.endpoint.ip);
    if (client && target && client === target) return undefined;
    const base = { port: d.endpoint.port, protocol: flow.protocol } as const;
    const dst = { ip: d.endpoint.ip };
    if (client) {
      const v = e.direction('Egress', { ...base, src: { ip: flow.client.ip, pod: client }, dst });
      if (v && !v.allowed) return v;
    }
    const v = e.direction('Ingress', { ...base, src: { ip: d.source }, dst });
    return v && !v.allowed ? v : undefined;
  }

  /**
   * The mode, with every forward decision checked against policy first. Every method runs on the
   * mode itself; the wrapper's prototype is the mode, so its fields stay readable through it.
   */
  wrap(mode: ProxyMode): ProxyMode {
    const wrapped = Object.create(mode) as ProxyMode & Record<string, unknown>;
    const own: Partial<ProxyMode> = {
      sync: (snap) => {
        this.sync(snap);
        mode.sync(snap);
      },
      decide: (flow, attempt) => {
        // No policy in the cluster: nothing can deny, so no question to ask (and no closure made
        // per connection to ask it).
        const e = this.engine;
        if (!e || e.policyCount === 0) return mode.decide(flow, attempt);
        // A kernel mode asks between its first packet's walk and the rest (the handshake), so its
        // emulated state is what the drop leaves; a mode that does not ask is checked after.
        let asked = false;
        const admit = (fwd: Extract<Decision, { kind: 'forward' }>) => {
          asked = true;
          const v = this.check(flow, fwd);
          return v ? { decision: this.deny(flow, fwd, v), direction: v.direction } : undefined;
        };
        const d = mode.decide(flow, attempt, admit);
        if (asked || d.kind !== 'forward') return d;
        const denied = this.check(flow, d);
        return denied ? this.deny(flow, d, denied) : d;
      },
      affinity: () => mode.affinity(),
      endpoints: () => mode.endpoints(),
      close: () => mode.close(),
    };
    if (mode.closed) own.closed = (flow, d) => mode.closed!(flow, d);
    if (mode.housekeeping) own.housekeeping = (now) => mode.housekeeping!(now);
    return Object.assign(wrapped, own);
  }

  private deny(flow: FlowRequest, d: Extract<Decision, { kind: 'forward' }>, v: DirectionVerdict): Decision {
    const action = this.opts.reject && flow.protocol === 'TCP' ? 'reject' : 'drop';
    for (const p of v.policies) this.counter.inc({ policy: p, direction: v.direction });
    const denial: PolicyDenial = {
      time: this.opts.clock.now(),
      protocol: flow.protocol,
      servicePort: flow.servicePort,
      client: joinHostPort(flow.client.ip, flow.client.port),
      endpoint: joinHostPort(d.endpoint.ip, d.endpoint.port),
      direction: v.direction,
      pod: v.pod,
      policies: v.policies,
      action,
      reason: v.reason,
    };
    this.recent.push(denial);
    if (this.recent.length > (this.opts.keep ?? POLICY_DENIALS_KEPT)) this.recent.shift();
    this.opts.log.debug(
      {
        servicePort: flow.servicePort,
        client: denial.client,
        endpoint: denial.endpoint,
        direction: v.direction,
        policies: v.policies,
      },
      'denied by NetworkPolicy',
    );
    return { kind: action, reason: `NetworkPolicy: ${v.reason}` };
  }
}
