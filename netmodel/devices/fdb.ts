/**
 * A Linux bridge's forwarding database (net/bridge/br_fdb.c): the bridge learns the source MAC of
 * every frame on the port it came in on, forwards a known destination to its port, and floods an
 * unknown one. Learned entries age out after ageing_time (300 s by default, BR_DEFAULT_AGEING_TIME)
 * since they were last seen; the bridge's own and its ports' addresses are permanent `local` entries.
 * Time is an argument (ms on the caller's clock).
 */
import type { Mac } from './mac.js';

/** 300 s: the kernel's BR_DEFAULT_AGEING_TIME. */
export const BRIDGE_AGEING_MS = 300_000;

export interface FdbEntry {
  readonly mac: Mac;
  readonly port: string;
  /** A permanent entry (the bridge's and its ports' own addresses): never ages, never moves. */
  readonly permanent: boolean;
  /** The bridge device itself owns this address (`self` + `permanent` in `bridge fdb`). */
  readonly self: boolean;
  readonly updated: number;
}

export class BridgeFdb {
  private readonly entries = new Map<Mac, FdbEntry>();
  constructor(readonly ageingMs: number = BRIDGE_AGEING_MS) {}

  /** A permanent entry for a local address (a port's own MAC, or the bridge's). */
  addLocal(mac: Mac, port: string, self = false): void {
    this.entries.set(mac, { mac, port, permanent: true, self, updated: 0 });
  }

  /** br_fdb_update: learn (or refresh, or move) `mac` on `port`; permanent entries are not touched. */
  learn(mac: Mac, port: string, now: number): 'learned' | 'refreshed' | 'moved' | 'local' {
    const e = this.entries.get(mac);
    if (e?.permanent) return 'local';
    const fresh = e && now - e.updated < this.ageingMs;
    this.entries.set(mac, { mac, port, permanent: false, self: false, updated: now });
    if (!fresh) return 'learned';
    return e.port === port ? 'refreshed' : 'moved';
  }

  /** br_fdb_find_rcu + has_expired: the entry for `mac`, unless it has aged out. */
  lookup(mac: Mac, now: number): FdbEntry | undefined {
    const e = this.entries.get(mac);
    if (!e) return undefined;
    if (!e.permanent && now - e.updated >= this.ageingMs) return undefined;
    return e;
  }

  /** Every entry that has not aged out at `now`, in insertion order. */
  list(now: number): FdbEntry[] {
    return [...this.entries.values()].filter((e) => e.permanent || now - e.updated < this.ageingMs);
  }

  /** Forget entries on a port (the port left the bridge). */
  flushPort(port: string): void {
    for (const [m, e] of this.entries) if (e.port === port) this.entries.delete(m);
  }
}
