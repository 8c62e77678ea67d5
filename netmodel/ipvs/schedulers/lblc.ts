/**
 * lblc and lblcr, locality-based least-connection (net/netfilter/ipvs/ip_vs_lblc.c, ip_vs_lblcr.c).
 * Both remember, per packet destination address, the real server (lblc) or the set of real servers
 * (lblcr) chosen for it, and fall back to weighted least-connection (as wlc) to pick a new one.
 *
 * lblc: a cached dest is used while it is available, has weight > 0 and is not "overloaded" in
 * lblc's sense (activeconns > weight while some dest has activeconns*2 < weight); otherwise a wlc pick
 * replaces the entry.
 * lblcr: the least loaded usable dest of the set (wlc comparison, available, weight > 0, not
 * overloaded); when the set has more than one dest and was not modified for lblcr_expiration, the
 * most loaded one is dropped; if the pick is missing or overloaded in lblc's sense, a wlc pick over
 * the service is added to the set (at its head).
 *
 * Timers, driven by the `now` of each call: a periodic check every 60 s from service creation; every
 * 30th run drops entries unused for lblc(r)_expiration (default 24 h); other runs, only when the
 * table holds more than 16 x 1024 entries, drop entries unused for 6 minutes (at most 4/3 of the
 * excess, capped at half the maximum). Entries are kept in a Map (insertion order) rather than the
 * kernel's 1024 hash buckets walked from a rover, so which stale entries a partial run drops first
 * may differ; the full runs and the decisions do not.
 */
import type { IP } from '../../addr.js';
import type { IpvsDest } from '../dest.js';
import type { ComparedDest, SchedPacket, SchedResult, SchedService, Scheduler } from './types.js';

const CHECK_EXPIRE_INTERVAL_MS = 60_000;
const ENTRY_TIMEOUT_MS = 6 * 60_000;
export const LBLC_DEFAULT_EXPIRATION_MS = 24 * 60 * 60_000;
const COUNT_FOR_FULL_EXPIRATION = 30;
const MAX_SIZE = 1024 * 16;

function compared(d: IpvsDest): ComparedDest {
  return {
    dest: d.name,
    weight: d.weight,
    activeConns: d.activeConns,
    inactConns: d.inactConns,
    load: d.overhead,
  };
}

/** __ip_vs_lblc(r)_schedule: weighted least-connection over the whole service. */
function wlcPick(list: readonly IpvsDest[]): IpvsDest | undefined {
  let least: IpvsDest | undefined;
  let loh = 0;
  for (const d of list) {
    if (d.overloaded) continue;
    if (!least) {
      if (d.weight > 0) {
        least = d;
        loh = d.overhead;
      }
      continue;
    }
    const doh = d.overhead;
    if (loh * d.weight > doh * least.weight) {
      least = d;
      loh = doh;
    }
  }
  return least;
}

/** lblc/lblcr's is_overloaded: more active connections than weight while some dest is under half. */
function lblcOverloaded(dest: IpvsDest, list: readonly IpvsDest[]): boolean {
  if (dest.activeConns > dest.weight) {
    for (const d of list) if (d.activeConns * 2 < d.weight) return true;
  }
  return false;
}

interface Entry {
  /** lblc: one dest; lblcr: the set, most recently inserted first. */
  set: IpvsDest[];
  lastuse: number;
  lastmod: number;
}

export class LocalityLeastConnection implements Scheduler {
  private readonly entries = new Map<string, Entry>();
  private nextTick: number | undefined;
  private counter = 1;

  constructor(
    readonly name: 'lblc' | 'lblcr',
    /** net.ipv4.vs.lblc_expiration / lblcr_expiration, ms. */
    readonly expirationMs: number = LBLC_DEFAULT_EXPIRATION_MS,
  ) {}

  /** Entries in the cache (for tests and listings). */
  get size(): number {
    return this.entries.size;
  }

  cached(addr: IP): readonly IpvsDest[] | undefined {
    return this.entries.get(addr.text)?.set;
  }

  changed(): void {}

  /** Start the periodic timer at service creation. */
  start(now: number): void {
    if (this.nextTick === undefined) this.nextTick = now + CHECK_EXPIRE_INTERVAL_MS;
  }

  private runTimers(now: number): void {
    if (this.nextTick === undefined) this.nextTick = now + CHECK_EXPIRE_INTERVAL_MS;
    while (this.nextTick <= now) {
      const t = this.nextTick;
      this.nextTick += CHECK_EXPIRE_INTERVAL_MS;
      if (this.counter % COUNT_FOR_FULL_EXPIRATION === 0) {
        for (const [k, e] of this.entries) if (t >= e.lastuse + this.expirationMs) this.entries.delete(k);
        this.counter = 1;
        continue;
      }
      if (this.entries.size <= MAX_SIZE) {
        this.counter++;
        continue;
      }
      let goal = Math.min(Math.trunc(((this.entries.size - MAX_SIZE) * 4) / 3), MAX_SIZE / 2);
      for (const [k, e] of this.entries) {
        if (goal <= 0) break;
        if (t >= e.lastuse + ENTRY_TIMEOUT_MS) {
          this.entries.delete(k);
          goal--;
        }
      }
    }
  }

  schedule(svc: SchedService, pk: SchedPacket, now: number): SchedResult {
    this.runTimers(now);
    const key = pk.dst.text;
    const list = svc.dests;
    const en = this.entries.get(key);
    const all = () => list.map(compared);
    const result = (
      dest: IpvsDest | undefined,
      cacheHit: boolean,
      text: string,
      cmp?: ComparedDest[],
    ): SchedResult => ({
      dest,
      why: cmp
        ? { scheduler: this.name, key, cacheHit, compared: cmp, text }
        : { scheduler: this.name, key, cacheHit, text },
    });
    if (this.name === 'lblc') {
      if (en) {
        en.lastuse = now;
        const d = en.set[0]!;
        if (d.available && d.weight > 0 && !lblcOverloaded(d, list))
          return result(d, true, `lblc: ${key} is cached on ${d.name}`);
      }
      const d = wlcPick(list);
      if (!d) return result(undefined, false, 'lblc: no destination available', all());
      if (!en || en.set[0] !== d) this.entries.set(key, { set: [d], lastuse: now, lastmod: now });
      return result(
        d,
        false,
        `lblc: ${en ? `the cached server for ${key} is unusable or overloaded` : `${key} is not cached`}; weighted least-connection picks ${d.name}`,
        all(),
      );
    }
    // lblcr
    if (en) {
      en.lastuse = now;
      const min = setMin(en.set);
      if (en.set.length > 1 && now > en.lastmod + this.expirationMs) {
        const m = setMax(en.set);
        if (m) {
          en.set.splice(en.set.indexOf(m), 1);
          en.lastmod = now;
        }
      }
      if (min && !lblcOverloaded(min, list))
        return result(
          min,
          true,
          `lblcr: least loaded of the set cached for ${key} is ${min.name}`,
          en.set.map(compared),
        );
      const d = wlcPick(list);
      if (!d) return result(undefined, true, 'lblcr: no destination available', all());
      if (!en.set.includes(d)) {
        en.set.unshift(d);
        en.lastmod = now;
      }
      return result(
        d,
        true,
        `lblcr: the set cached for ${key} has no usable server; ${d.name} (weighted least-connection) joins it`,
        all(),
      );
    }
    const d = wlcPick(list);
    if (!d) return result(undefined, false, 'lblcr: no destination available', all());
    this.entries.set(key, { set: [d], lastuse: now, lastmod: now });
    return result(d, false, `lblcr: ${key} is not cached; weighted least-connection picks ${d.name}`, all());
  }

  /** schedule's dest and its effect on the cache (the same steps), without the explanation. */
  pick(svc: SchedService, pk: SchedPacket, now: number): IpvsDest | undefined {
    this.runTimers(now);
    const key = pk.dst.text;
    const list = svc.dests;
    const en = this.entries.get(key);
    if (this.name === 'lblc') {
      if (en) {
        en.lastuse = now;
        const d = en.set[0]!;
        if (d.available && d.weight > 0 && !lblcOverloaded(d, list)) return d;
      }
      const d = wlcPick(list);
      if (d && (!en || en.set[0] !== d)) this.entries.set(key, { set: [d], lastuse: now, lastmod: now });
      return d;
    }
    if (en) {
      en.lastuse = now;
      const min = setMin(en.set);
      if (en.set.length > 1 && now > en.lastmod + this.expirationMs) {
        const m = setMax(en.set);
        if (m) {
          en.set.splice(en.set.indexOf(m), 1);
          en.lastmod = now;
        }
      }
      if (min && !lblcOverloaded(min, list)) return min;
      const d = wlcPick(list);
      if (d && !en.set.includes(d)) {
        en.set.unshift(d);
        en.lastmod = now;
      }
      return d;
    }
    const d = wlcPick(list);
    if (d) this.entries.set(key, { set: [d], lastuse: now, lastmod: now });
    return d;
  }
}

/** ip_vs_dest_set_min. */
function setMin(set: readonly IpvsDest[]): IpvsDest | undefined {
  let least: IpvsDest | undefined;
  let loh = 0;
  for (const d of set) {
    if (d.overloaded) continue;
    if (!least) {
      if (d.weight > 0 && d.available) {
        least = d;
        loh = d.overhead;
      }
      continue;
    }
    const doh = d.overhead;
    if (loh * d.weight > doh * least.weight && d.available) {
      least = d;
      loh = doh;
    }
  }
  return least;
}

/** ip_vs_dest_set_max. */
function setMax(set: readonly IpvsDest[]): IpvsDest | undefined {
  let most: IpvsDest | undefined;
  let moh = 0;
  for (const d of set) {
    if (!most) {
      if (d.weight > 0) {
        most = d;
        moh = d.overhead;
      }
      continue;
    }
    const doh = d.overhead;
    if (moh * d.weight < doh * most.weight && d.weight > 0) {
      most = d;
      moh = doh;
    }
  }
  return most;
}
