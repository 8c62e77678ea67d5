/**
 * The IPVS timers' queues (netmodel/ipvs/timer-queues.ts): whatever order the slots come in (a clock
 * that goes back sends a key to the heap behind the FIFOs), they come out in key order, as a sorted
 * list of the same slots gives them; and the FIFOs compact as they drain.
 */
import { describe, expect, it } from 'vitest';
import { TimerQueues } from '../../netmodel/ipvs/timer-queues.js';
import { SeededRng } from '../../netmodel/rng.js';

const TIMEOUTS = [2_000, 3_000, 10_000, 60_000, 120_000, 900_000];

describe('IPVS timer queues', () => {
  it('pops every slot in key order, against a sorted reference, with clocks that go back', () => {
    const rng = new SeededRng(11);
    const q = new TimerQueues<number>();
    const ref: { key: number; item: number }[] = [];
    let now = 1_000_000;
    let item = 0;
    const popped: number[] = [];
    const want: number[] = [];
    for (let step = 0; step < 20_000; step++) {
      // Mostly forward in small steps; now and then back (a caller with an older clock).
      now += rng.uint32() % 7 === 0 ? -(rng.uint32() % 5_000) : rng.uint32() % 50;
      const timeout = TIMEOUTS[rng.uint32() % TIMEOUTS.length]!;
      const key = now + timeout;
      q.push(key, timeout, item);
      ref.push({ key, item });
      item++;
      if (step % 97 === 0) {
        // Take everything due at `now + 60 s`.
        const due = now + 60_000;
        ref.sort((a, b) => a.key - b.key);
        while (ref.length && ref[0]!.key <= due) want.push(ref.shift()!.key);
        while (q.nextKey <= due) {
          popped.push(q.nextKey);
          q.pop();
        }
        expect(q.size).toBe(ref.length);
      }
    }
    ref.sort((a, b) => a.key - b.key);
    for (const r of ref) want.push(r.key);
    const items = new Set(q.items());
    expect(items.size).toBe(ref.length);
    for (const r of ref) expect(items.has(r.item)).toBe(true);
    while (q.size) {
      popped.push(q.nextKey);
      q.pop();
    }
    expect(popped).toEqual(want);
    expect(q.nextKey).toBe(Number.POSITIVE_INFINITY);
  });

  it('a long FIFO drained from its head keeps its order across compactions', () => {
    const q = new TimerQueues<number>();
    for (let i = 0; i < 50_000; i++) q.push(i, 120_000, i);
    const out: number[] = [];
    for (let i = 0; i < 30_000; i++) out.push(q.pop()!);
    for (let i = 50_000; i < 60_000; i++) q.push(i, 120_000, i);
    while (q.size) out.push(q.pop()!);
    expect(out).toEqual(Array.from({ length: 60_000 }, (_, i) => i));
  });

  it('a released slot lets its item go at once and pops later, in its place, with none', () => {
    // Entries in the 120 s FIFO (kept long enough to compact twice), every third released while
    // queued; releasing one that already popped, or through a handle whose slot holds another
    // item, changes nothing.
    const q = new TimerQueues<{ id: number }>();
    const items = Array.from({ length: 30_000 }, (_, id) => ({ id }));
    const handles = items.map((it, i) => q.push(1_000 + i, 120_000, it));
    expect(handles.every((h) => h >= 0)).toBe(true);
    const popped: (number | undefined)[] = [];
    for (let i = 0; i < 10_000; i++) popped.push(q.pop()?.id);
    items.forEach((it, i) => {
      if (i % 3 === 0) q.release(handles[i]!, it);
    });
    q.release(handles[1]!, items[2]!); // not the item in that slot
    const kept = items.filter((_, i) => i >= 10_000 && i % 3 !== 0);
    expect(new Set(q.items())).toEqual(new Set(kept));
    const keys: number[] = [];
    while (q.size) {
      keys.push(q.nextKey);
      popped.push(q.pop()?.id);
    }
    expect(keys).toEqual(Array.from({ length: 20_000 }, (_, i) => 11_000 + i));
    expect(popped).toEqual(items.map((it, i) => (i >= 10_000 && i % 3 === 0 ? undefined : it.id)));
  });
});

describe('IPVS timer queues: squeezing released slots', () => {
  it('drops released slots once they are most of a FIFO, and the handles it hands on still release', () => {
    // One FIFO of 30,000 slots; every slot but each fourth released (squeezes happen along the way);
    // then every other survivor released through the handle `moved` last gave it.
    const handleOf = new Map<{ id: number }, number>();
    let moves = 0;
    const q = new TimerQueues<{ id: number }>((it, from, to) => {
      moves++;
      expect(handleOf.get(it)).toBe(from);
      handleOf.set(it, to);
    });
    const items = Array.from({ length: 30_000 }, (_, id) => ({ id }));
    items.forEach((it, i) => {
      handleOf.set(it, q.push(1_000 + i, 60_000, it));
    });
    items.forEach((it, i) => {
      if (i % 4 !== 0) q.release(handleOf.get(it)!, it);
    });
    expect(moves).toBeGreaterThan(0);
    // 22,500 released: squeezed out down to fewer than SQUEEZE_AT (1,024) holes or half the FIFO.
    expect(q.size).toBeLessThan(7_500 + 7_500);
    const kept = items.filter((_, i) => i % 4 === 0);
    expect(new Set(q.items())).toEqual(new Set(kept));
    kept.forEach((it, k) => {
      if (k % 2 === 1) q.release(handleOf.get(it)!, it);
    });
    const left = kept.filter((_, k) => k % 2 === 0);
    expect(new Set(q.items())).toEqual(new Set(left));
    const keys: number[] = [];
    const popped: number[] = [];
    while (q.size) {
      keys.push(q.nextKey);
      const it = q.pop();
      if (it) popped.push(it.id);
    }
    expect(popped).toEqual(left.map((it) => it.id));
    expect(keys).toEqual([...keys].sort((a, b) => a - b));
    expect(q.nextKey).toBe(Number.POSITIVE_INFINITY);
  });

  it('random pushes, restarts, releases and pops give what a sorted list of the live slots gives', () => {
    // Entries restarted earlier (a new slot, the old one released, as the connection table does),
    // removed (released) or left to come due; drained now and then. Whatever squeezes happen, the
    // queues hold exactly the live entries, and the items popped up to a time are the live slots
    // due by then, in key order.
    const rng = new SeededRng(5);
    type E = { id: number; handle: number; key: number; at: number };
    const q = new TimerQueues<E>((e, from, to) => {
      if (e.handle === from) e.handle = to;
    });
    const live: E[] = [];
    const drop = (e: E) => {
      const last = live.pop()!;
      if (last !== e) {
        live[e.at] = last;
        last.at = e.at;
      }
      e.at = -1;
    };
    let now = 1_000_000;
    let ids = 0;
    let squeezedAway = 0;
    for (let step = 0; step < 60_000; step++) {
      now += rng.uint32() % 3;
      const r = rng.uint32() % 10;
      if (r < 5 || live.length === 0) {
        const timeout = TIMEOUTS[rng.uint32() % TIMEOUTS.length]!;
        const e: E = { id: ids++, handle: -1, key: now + timeout, at: live.length };
        e.handle = q.push(e.key, timeout, e);
        live.push(e);
      } else if (r < 8) {
        const e = live[rng.uint32() % live.length]!;
        drop(e);
        const before = q.size;
        q.release(e.handle, e);
        if (q.size < before) squeezedAway += before - q.size;
      } else {
        // A restart to an earlier expiry: a new slot, the old one released.
        const e = live[rng.uint32() % live.length]!;
        const timeout = 2_000;
        if (now + timeout < e.key) {
          q.release(e.handle, e);
          e.key = now + timeout;
          e.handle = q.push(e.key, timeout, e);
        }
      }
      if (step % 2_000 === 1_999) {
        expect(new Set(q.items())).toEqual(new Set(live));
        const due = now + 1_000;
        const want = live
          .filter((e) => e.key <= due)
          .map((e) => e.key)
          .sort((a, b) => a - b);
        const got: number[] = [];
        while (q.nextKey <= due) {
          const k = q.nextKey;
          const e = q.pop();
          if (!e) continue;
          expect(e.key).toBe(k);
          got.push(k);
          drop(e);
        }
        expect(got).toEqual(want);
      }
    }
    expect(squeezedAway).toBeGreaterThan(0);
    expect(new Set(q.items())).toEqual(new Set(live));
  });
});
