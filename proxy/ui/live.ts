/**
 * The live view over server-sent events: every `intervalMs` the open connections (the conntrack
 * table), connections per service, the recent policy denials and the pods' readiness, sent to each
 * subscriber when they changed. The timer runs only while someone is subscribed.
 */
import type { ServerResponse } from 'node:http';
import type { ClusterSnapshot } from '../../netmodel/cluster/index.js';
import type { ConntrackJson } from '../runtime/conntrack.js';
import type { PolicyDenial } from '../runtime/policy-gate.js';

/** ms between updates: several a second. */
export const LIVE_INTERVAL_MS = 200;
/** Denials shown (newest last). */
export const LIVE_DENIALS = 50;

/** Entries that are closed and only ageing out, as the kernel keeps them (conntrack -L still lists them). */
const CLOSED_STATES = new Set(['TIME_WAIT', 'CLOSE']);

export interface LiveSource {
  snapshot(): ClusterSnapshot | undefined;
  mode(): string;
  conntrack(): ConntrackJson[];
  denials(): readonly PolicyDenial[];
}

export interface LiveState {
  readonly mode: string;
  readonly version: number;
  /** Open connections (not TIME_WAIT or CLOSE). */
  readonly connections: readonly ConntrackJson[];
  /** Closed entries still ageing out of the table. */
  readonly closing: number;
  /** service port ("ns/name:port") -> open connections to it */
  readonly perService: Readonly<Record<string, number>>;
  readonly denials: readonly PolicyDenial[];
  readonly pods: readonly { readonly pod: string; readonly node: string | null; readonly ready: boolean }[];
}

export function liveState(src: LiveSource): LiveState {
  const all = src.conntrack();
  const connections = all.filter((c) => !CLOSED_STATES.has(c.state));
  const perService: Record<string, number> = {};
  for (const c of connections) perService[c.service] = (perService[c.service] ?? 0) + 1;
  const snap = src.snapshot();
  return {
    mode: src.mode(),
    version: snap?.version ?? 0,
    connections,
    closing: all.length - connections.length,
    perService,
    denials: src.denials().slice(-LIVE_DENIALS),
    pods: (snap?.pods ?? []).map((p) => ({
      pod: `${p.meta.namespace}/${p.meta.name}`,
      node: p.nodeName,
      ready: p.ready,
    })),
  };
}

interface Subscriber {
  readonly res: ServerResponse;
  last: string;
}

export class LiveFeed {
  private readonly subs = new Set<Subscriber>();
  private timer: NodeJS.Timeout | undefined;

  constructor(
    private readonly src: LiveSource,
    private readonly intervalMs = LIVE_INTERVAL_MS,
  ) {}

  subscribe(res: ServerResponse): void {
    res.writeHead(200, {
      'content-type': 'text/event-stream',
      'cache-control': 'no-cache',
      connection: 'keep-alive',
    });
    res.write(`retry: 1000\n\n`);
    const sub: Subscriber = { res, last: '' };
    this.subs.add(sub);
    res.on('close', () => {
      this.subs.delete(sub);
      if (this.subs.size === 0) this.stopTimer();
    });
    this.push(sub, this.payload());
    if (!this.timer) {
      this.timer = setInterval(() => this.tick(), this.intervalMs);
      this.timer.unref();
    }
  }

  get subscribers(): number {
    return this.subs.size;
  }

  close(): void {
    this.stopTimer();
    for (const s of this.subs) s.res.end();
    this.subs.clear();
  }

  private stopTimer(): void {
    if (this.timer) clearInterval(this.timer);
    this.timer = undefined;
  }

  private payload(): string {
    try {
      return JSON.stringify(liveState(this.src));
    } catch (e) {
      return JSON.stringify({ error: (e as Error).message });
    }
  }

  private tick(): void {
    const data = this.payload();
    for (const s of this.subs) this.push(s, data);
  }

  private push(s: Subscriber, data: string): void {
    if (data === s.last) return;
    s.last = data;
    s.res.write(`event: live\ndata: ${data}\n\n`);
  }
}
