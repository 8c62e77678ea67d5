/**
 * State of the `recent` match (xt_recent): named lists of addresses with their last-seen times,
 * kept outside the rules like /proc/net/xt_recent/NAME. Times are milliseconds from the caller's clock.
 */

export interface RecentEntry {
  /** The masked address, as text. */
  readonly addr: string;
  readonly family: 4 | 6;
  /** Time stamps, oldest first (at most ipPktListTot). */
  readonly stamps: readonly number[];
  readonly ttl: number;
}

interface MutableEntry {
  addr: string;
  family: 4 | 6;
  stamps: number[];
  ttl: number;
}

export interface RecentOptions {
  /** ip_list_tot: addresses per list; the least recently updated is evicted. Kernel default 100. */
  readonly ipListTot?: number;
  /** ip_pkt_list_tot: time stamps kept per address. Kernel default 20. */
  readonly ipPktListTot?: number;
}

export class RecentList {
  /** Map order is LRU order: first = least recently updated. */
  private readonly entries = new Map<string, MutableEntry>();
  constructor(
    readonly name: string,
    private readonly ipListTot: number,
    private readonly ipPktListTot: number,
  ) {}

  get(addr: string): MutableEntry | undefined {
    return this.entries.get(addr);
  }

  /** recent_entry_init: a new entry with one stamp, evicting the oldest entry if the list is full. */
  insert(addr: string, family: 4 | 6, now: number, ttl: number): MutableEntry {
    if (this.entries.size >= this.ipListTot) {
      const oldest = this.entries.keys().next().value;
      if (oldest !== undefined) this.entries.delete(oldest);
    }
    const e: MutableEntry = { addr, family, stamps: [now], ttl };
    this.entries.set(addr, e);
    return e;
  }

  /** recent_entry_update: add a stamp (dropping the oldest beyond ipPktListTot), move to LRU tail. */
  touch(e: MutableEntry, now: number, ttl: number): void {
    e.stamps.push(now);
    if (e.stamps.length > this.ipPktListTot) e.stamps.shift();
    e.ttl = ttl;
    this.entries.delete(e.addr);
    this.entries.set(e.addr, e);
  }

  remove(addr: string): void {
    this.entries.delete(addr);
  }

  list(): RecentEntry[] {
    return [...this.entries.values()].map((e) => ({ ...e, stamps: [...e.stamps] }));
  }
}

export class RecentTables {
  private readonly lists = new Map<string, RecentList>();
  readonly ipListTot: number;
  readonly ipPktListTot: number;
  constructor(opts: RecentOptions = {}) {
    this.ipListTot = opts.ipListTot ?? 100;
    this.ipPktListTot = opts.ipPktListTot ?? 20;
  }

  /** The list named `name`, created on first use (as loading a rule with --name creates it). */
  list(name: string): RecentList {
    let l = this.lists.get(name);
    if (!l) {
      l = new RecentList(name, this.ipListTot, this.ipPktListTot);
      this.lists.set(name, l);
    }
    return l;
  }

  names(): string[] {
    return [...this.lists.keys()];
  }
}
