/**
 * A namespace's neighbour (ARP/NDISC) table, as `ip neigh` shows it. Entries resolved by an ARP
 * exchange are REACHABLE; entries a program installs (flannel's VTEP neighbours) are PERMANENT and
 * never resolved on the wire. Time is an argument.
 */
import type { IP } from '../addr.js';
import type { Mac } from './mac.js';

export type NeighState = 'PERMANENT' | 'REACHABLE' | 'STALE' | 'FAILED' | 'NOARP';

export interface NeighEntry {
  readonly ip: IP;
  readonly dev: string;
  readonly mac?: Mac;
  readonly state: NeighState;
  /** The neighbour said it is a router (NTF_ROUTER; printed `router`). */
  readonly router?: boolean;
  readonly updated: number;
}

/** base_reachable_time 30 s: a REACHABLE entry becomes STALE after about that long unconfirmed. */
export const REACHABLE_MS = 30_000;

export class NeighTable {
  private readonly entries = new Map<string, NeighEntry>();

  private key(ip: IP, dev: string): string {
    return `${dev} ${ip.text}`;
  }

  set(e: NeighEntry): void {
    this.entries.set(this.key(e.ip, e.dev), e);
  }

  get(ip: IP, dev: string): NeighEntry | undefined {
    return this.entries.get(this.key(ip, dev));
  }

  /** The state `ip neigh` would print at `now` (REACHABLE ages to STALE). */
  stateAt(e: NeighEntry, now: number): NeighState {
    if (e.state === 'REACHABLE' && now - e.updated >= REACHABLE_MS) return 'STALE';
    return e.state;
  }

  list(): NeighEntry[] {
    return [...this.entries.values()];
  }
}
