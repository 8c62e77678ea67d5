/**
 * The conntrack hash (tuple-index.ts) against the Map keyed by tupleKey strings it replaced: the same
 * answers for random add/remove sequences of entries, IPv4 and IPv6, ports and ICMP ids/types, and
 * packet and inverse lookups that build no tuple.
 */
import { describe, expect, it } from 'vitest';
import type { IP } from '../../netmodel/addr.js';
import { v4, v6 } from '../../netmodel/addr.js';
import { CtEntry } from '../../netmodel/conntrack/entry.js';
import type { Tuple } from '../../netmodel/conntrack/index.js';
import { invertTuple, tupleKey, tupleOf } from '../../netmodel/conntrack/index.js';
import type { CtDirection } from '../../netmodel/conntrack/status.js';
import { hashOfTuple, sameSource, sourceHash, TupleIndex } from '../../netmodel/conntrack/tuple-index.js';
import type { L4Proto } from '../../netmodel/packet.js';
import { packet } from '../../netmodel/packet.js';
import { intBelow, SeededRng } from '../../netmodel/rng.js';

/** Small value spaces, so that equal tuples and reused slots are common. */
function randomTuple(rng: SeededRng): Tuple {
  const family = intBelow(rng, 3) === 0 ? 6 : 4;
  const addr = (): IP =>
    family === 4
      ? v4(0x0af40100 + intBelow(rng, 4))
      : v6(0xfd000000000000000000000000000000n + BigInt(intBelow(rng, 4)));
  const protos: L4Proto[] = family === 4 ? ['tcp', 'udp', 'icmp'] : ['tcp', 'sctp', 'icmpv6'];
  const proto = protos[intBelow(rng, 3)]!;
  const src = addr();
  const dst = addr();
  if (proto === 'icmp' || proto === 'icmpv6') {
    const t: Tuple = { family, proto, src, dst, sport: intBelow(rng, 3), dport: intBelow(rng, 2) };
    // Absent type/code read as 0, as tupleKey reads them.
    if (intBelow(rng, 4) === 0) return t;
    return { ...t, icmpType: intBelow(rng, 2) * 8, icmpCode: intBelow(rng, 2) };
  }
  return { family, proto, src, dst, sport: 1000 + intBelow(rng, 3), dport: 80 + intBelow(rng, 3) };
}

/** A confirmed-looking entry with these tuples and hashes (what the table's confirm sets). */
function entryOf(
  id: number,
  original: Tuple,
  reply: Tuple,
  oh = hashOfTuple(original),
  rh = hashOfTuple(reply),
) {
  const e = new CtEntry(id, original, reply, 0, false);
  e.origHash = oh;
  e.replyHash = rh;
  return e;
}

/** What the index answers for `t`: the entry and direction, as the reference Map holds them. */
function answer(
  index: TupleIndex,
  found: CtEntry | undefined,
): { entry: CtEntry; dir: CtDirection } | undefined {
  return found ? { entry: found, dir: index.hitDir } : undefined;
}

describe('TupleIndex', () => {
  it('answers as a Map keyed by tupleKey (reply set after original) over random add/remove', () => {
    // The table adds an entry only when neither of its tuples is in the index (confirm refuses a
    // clash), so the reference adds under the same condition; an entry whose two tuples are equal
    // (a flow to itself) is allowed and answers REPLY, the direction the Map got last.
    const rng = new SeededRng(7);
    const index = new TupleIndex();
    const ref = new Map<string, { entry: CtEntry; dir: CtDirection }>();
    const live: CtEntry[] = [];
    let hits = 0;
    let most = 0;
    for (let i = 0; i < 20_000; i++) {
      const op = intBelow(rng, 4);
      if (op <= 1) {
        const original = randomTuple(rng);
        const reply = intBelow(rng, 20) === 0 ? original : randomTuple(rng);
        if (!ref.has(tupleKey(original)) && !ref.has(tupleKey(reply))) {
          const e = entryOf(i, original, reply);
          index.add(e);
          live.push(e);
          ref.set(tupleKey(original), { entry: e, dir: 'ORIGINAL' });
          ref.set(tupleKey(reply), { entry: e, dir: 'REPLY' });
        }
      } else if (op === 2 && live.length) {
        const e = live.splice(intBelow(rng, live.length), 1)[0]!;
        index.remove(e);
        for (const [k, v] of [...ref]) if (v.entry === e) ref.delete(k);
      }
      most = Math.max(most, live.length);
      const t = randomTuple(rng);
      if (ref.has(tupleKey(t))) hits++;
      expect(answer(index, index.get(t, hashOfTuple(t)))).toEqual(ref.get(tupleKey(t)));
      if (t.proto !== 'icmp' && t.proto !== 'icmpv6') {
        const inv = invertTuple(t)!;
        expect(answer(index, index.getInverse(t))).toEqual(ref.get(tupleKey(inv)));
        const p = packet({ proto: t.proto, src: t.src, dst: t.dst, sport: t.sport, dport: t.dport });
        expect(answer(index, index.getPacket(p))).toEqual(ref.get(tupleKey(t)));
      }
    }
    // The run went through full and empty chains and found entries often.
    expect(most).toBeGreaterThan(20);
    expect(hits).toBeGreaterThan(2000);
  });

  it('keeps every entry findable as it grows past its first buckets, and after removals', () => {
    const index = new TupleIndex();
    const all: CtEntry[] = [];
    for (let i = 0; i < 5000; i++) {
      const original: Tuple = {
        family: 4,
        proto: 'tcp',
        src: v4(0x0af00000 + (i >> 8)),
        dst: v4(0x0a600050),
        sport: 32768 + (i & 0xff),
        dport: 80,
      };
      const reply = invertTuple({ ...original, dst: v4(0x0af40105), dport: 8080 })!;
      const e = entryOf(i, original, reply);
      index.add(e);
      all.push(e);
    }
    const found = (t: Tuple, hash: number) => answer(index, index.get(t, hash));
    const lost = (list: CtEntry[]) =>
      list.filter(
        (e) =>
          found(e.original, e.origHash)?.entry !== e ||
          found(e.original, e.origHash)?.dir !== 'ORIGINAL' ||
          found(e.reply, e.replyHash)?.entry !== e ||
          found(e.reply, e.replyHash)?.dir !== 'REPLY',
      ).length;
    expect(lost(all)).toBe(0);
    for (let i = 0; i < all.length; i += 2) index.remove(all[i]!);
    expect(all.filter((e, i) => i % 2 === 0 && index.get(e.original, e.origHash) !== undefined)).toEqual([]);
    expect(lost(all.filter((_, i) => i % 2 === 1))).toBe(0);
  });

  it('finds a packet by its wire tuple without building it (ports, ICMP id/type/code)', () => {
    const index = new TupleIndex();
    const a = v4(0x0af40105);
    const b = v4(0x0a60000a);
    const pTcp = packet({ proto: 'tcp', src: a, dst: b, sport: 40000, dport: 80 });
    const pIcmp = packet({ proto: 'icmp', src: a, dst: b, icmp: { type: 8, code: 0, id: 77 } });
    const pIcmpNoBody = packet({ proto: 'icmp', src: a, dst: b });
    const found: CtEntry[] = [];
    for (const p of [pTcp, pIcmp, pIcmpNoBody]) {
      const t = tupleOf(p);
      // A reply tuple nothing looks up (another address pair).
      const e = entryOf(found.length + 1, t, { ...t, src: v4(9), dst: v4(10) });
      index.add(e);
      found.push(e);
    }
    expect(index.getPacket(pTcp)).toBe(found[0]);
    expect(index.getPacket(pIcmp)).toBe(found[1]);
    expect(index.getPacket(pIcmpNoBody)).toBe(found[2]);
    expect(index.hitDir).toBe('ORIGINAL');
    expect(
      index.getPacket(packet({ proto: 'tcp', src: a, dst: b, sport: 40000, dport: 81 })),
    ).toBeUndefined();
    expect(
      index.getPacket(packet({ proto: 'udp', src: a, dst: b, sport: 40000, dport: 80 })),
    ).toBeUndefined();
    expect(
      index.getPacket(packet({ proto: 'icmp', src: a, dst: b, icmp: { type: 8, code: 0, id: 78 } })),
    ).toBeUndefined();
  });

  it('keeps tuples apart whose hashes collide', () => {
    // Entries are chained per hash and told apart by their fields: force one hash for all tuples.
    const a: Tuple = { family: 4, proto: 'udp', src: v4(1), dst: v4(2), sport: 3, dport: 53 };
    const b: Tuple = { ...a, sport: 4 };
    const ra = invertTuple(a)!;
    const rb = invertTuple(b)!;
    const index = new TupleIndex();
    const h = 12345; // the same (forced) hash for every tuple
    const ea = entryOf(1, a, ra, h, h);
    const eb = entryOf(2, b, rb, h, h);
    index.add(ea);
    index.add(eb);
    expect(index.get(a, h)).toBe(ea);
    expect(index.hitDir).toBe('ORIGINAL');
    expect(index.get(rb, h)).toBe(eb);
    expect(index.hitDir).toBe('REPLY');
    index.remove(ea);
    expect(index.get(a, h)).toBeUndefined();
    expect(index.get(ra, h)).toBeUndefined();
    expect(index.get(b, h)).toBe(eb);
    index.remove(eb);
    expect(index.get(b, h)).toBeUndefined();
    expect(index.get(rb, h)).toBeUndefined();
    // Removing an entry that is not in the index changes nothing.
    index.add(ea);
    index.remove(eb);
    expect(index.get(a, h)).toBe(ea);
  });

  it('stays exact through long churn: deleted slots reused, runs emptied, the table rebuilt', () => {
    // A steady population (as TIME_WAIT entries come and go) with hashes forced into few values, so
    // that probe runs are long and deleted slots sit inside them; checked against a Map after every
    // step and for every live entry at the end.
    const rng = new SeededRng(11);
    const index = new TupleIndex();
    const ref = new Map<string, { entry: CtEntry; dir: CtDirection }>();
    const live: CtEntry[] = [];
    const tupleN = (n: number): Tuple => ({
      family: 4,
      proto: 'tcp',
      src: v4(0x0af00000 + (n >> 16)),
      dst: v4(0x0a600050),
      sport: n & 0xffff,
      dport: 80,
    });
    for (let i = 0; i < 60_000; i++) {
      if (live.length < 1500 || (live.length < 4000 && intBelow(rng, 2) === 0)) {
        const original = tupleN(2 * i);
        const reply = tupleN(2 * i + 1);
        // 40 hash values in all: long runs of equal and neighbouring hashes.
        const e = entryOf(i, original, reply, (i * 7) % 40, (i * 13) % 40);
        index.add(e);
        live.push(e);
        ref.set(tupleKey(original), { entry: e, dir: 'ORIGINAL' });
        ref.set(tupleKey(reply), { entry: e, dir: 'REPLY' });
      } else {
        const e = live.splice(intBelow(rng, live.length), 1)[0]!;
        index.remove(e);
        ref.delete(tupleKey(e.original));
        ref.delete(tupleKey(e.reply));
        expect(index.get(e.original, e.origHash)).toBeUndefined();
        expect(index.get(e.reply, e.replyHash)).toBeUndefined();
      }
      const probe = live[intBelow(rng, live.length)]!;
      expect(answer(index, index.get(probe.reply, probe.replyHash))).toEqual(ref.get(tupleKey(probe.reply)));
    }
    for (const e of live) {
      expect(answer(index, index.get(e.original, e.origHash))).toEqual({ entry: e, dir: 'ORIGINAL' });
      expect(answer(index, index.get(e.reply, e.replyHash))).toEqual({ entry: e, dir: 'REPLY' });
    }
  });

  it('answers REPLY for a flow to itself whatever was found last, and forgets a removed entry', () => {
    const t: Tuple = { family: 4, proto: 'udp', src: v4(1), dst: v4(1), sport: 53, dport: 53 };
    const other: Tuple = { ...t, sport: 54 };
    const index = new TupleIndex();
    const self = entryOf(1, t, t);
    const e2 = entryOf(2, other, invertTuple(other)!);
    index.add(self);
    index.add(e2); // the last one added is the one a lookup compares first
    expect(index.get(t, hashOfTuple(t))).toBe(self);
    expect(index.hitDir).toBe('REPLY');
    expect(index.get(other, hashOfTuple(other))).toBe(e2);
    expect(index.hitDir).toBe('ORIGINAL');
    index.remove(e2); // the entry found last goes: no lookup may answer it
    expect(index.get(other, hashOfTuple(other))).toBeUndefined();
    expect(index.getInverse(invertTuple(other)!)).toBeUndefined();
    expect(index.get(t, hashOfTuple(t))).toBe(self);
    expect(index.hitDir).toBe('REPLY');
  });

  it('source hashes group by family, protocol, source address and port', () => {
    const base: Tuple = { family: 4, proto: 'tcp', src: v4(1), dst: v4(2), sport: 5, dport: 6 };
    const sameSrc: Tuple = { ...base, dst: v4(9), dport: 7 };
    expect(sourceHash(sameSrc)).toBe(sourceHash(base));
    expect(sameSource(sameSrc, base)).toBe(true);
    for (const other of [
      { ...base, sport: 6 },
      { ...base, proto: 'udp' as const },
      { ...base, src: v4(3) },
    ])
      expect(sameSource(other, base)).toBe(false);
  });
});
