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
