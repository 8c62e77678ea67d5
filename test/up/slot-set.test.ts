import { describe, expect, it } from 'vitest';
import { ManualClock } from '../../netmodel/clock.js';
import { LiveConntrack } from '../../proxy/runtime/conntrack.js';
import { SlotSet } from '../../proxy/runtime/slot-set.js';

const member = (name: string) => ({ name, slot: -1, destroy() {}, buffered: () => 0 });

describe('SlotSet: the open connections in a slot array', () => {
  it('adds, deletes from the middle (the last member takes the slot), iterates a copy', () => {
    const s = new SlotSet<ReturnType<typeof member>>();
    const [a, b, c, d] = ['a', 'b', 'c', 'd'].map(member);
    for (const m of [a!, b!, c!, d!]) s.add(m);
    s.add(b!); // already in: no change
    expect(s.size).toBe(4);
    expect(s.delete(b!)).toBe(true);
    expect(s.delete(b!)).toBe(false);
    expect(b!.slot).toBe(-1);
    expect(d!.slot).toBe(1);
    expect([...s].map((m) => m.name)).toEqual(['a', 'd', 'c']);
    // Deleting while walking (as a drain destroys each) sees every member once.
    const seen: string[] = [];
    for (const m of s) {
      seen.push(m.name);
      s.delete(m);
    }
    expect(seen).toEqual(['a', 'd', 'c']);
    expect(s.size).toBe(0);
    expect(s.has(a!)).toBe(false);
  });
});

describe('LiveConntrack: the live table in a slot array', () => {
  it('lists live entries oldest first whatever order they ended in', () => {
    const t = new LiveConntrack(new ManualClock(0));
    const open = (sport: number) =>
      t.open({
        protocol: 'tcp',
        original: { src: '10.244.0.5', sport, dst: '10.96.0.10', dport: 80 },
        state: 'SYN_SENT',
        service: 'default/web:http',
        entryNode: 'node-a',
        mode: 'userspace',
      });
    const es = [1, 2, 3, 4, 5].map(open);
    t.close(es[1]!);
    t.close(es[1]!); // twice: nothing more
    t.close(es[0]!);
    const f = open(6);
    expect(t.size).toBe(4);
    expect(t.list().map((c) => c.original.sport)).toEqual([3, 4, 5, 6]);
    expect(f.id).toBeGreaterThan(es[4]!.id);
    for (const c of t.list()) t.close(c);
    expect(t.size).toBe(0);
  });
});
