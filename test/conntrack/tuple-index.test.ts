/**
 * The conntrack hash (tuple-index.ts) against the Map keyed by tupleKey strings it replaced: the same
 * answers for random set/get/delete sequences, IPv4 and IPv6, ports and ICMP ids/types, and packet
 * and inverse lookups that build no tuple.
 */
import { describe, expect, it } from 'vitest';
import type { IP } from '../../netmodel/addr.js';
import { v4, v6 } from '../../netmodel/addr.js';
import type { CtEntry } from '../../netmodel/conntrack/entry.js';
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

const fakeEntry = (n: number) => ({ id: n }) as unknown as CtEntry;

describe('TupleIndex', () => {
  it('behaves as a Map keyed by tupleKey over random set/get/delete', () => {
    const rng = new SeededRng(7);
    const index = new TupleIndex();
    const ref = new Map<string, { entry: CtEntry; dir: CtDirection }>();
    for (let i = 0; i < 20_000; i++) {
      const t = randomTuple(rng);
      const h = hashOfTuple(t);
      const op = intBelow(rng, 3);
      if (op === 0) {
        const entry = fakeEntry(i);
        const dir: CtDirection = intBelow(rng, 2) === 0 ? 'ORIGINAL' : 'REPLY';
        index.set(t, h, entry, dir);
        ref.set(tupleKey(t), { entry, dir });
      } else if (op === 1) {
        index.delete(t, h);
        ref.delete(tupleKey(t));
      }
      const got = index.get(t, h);
      const want = ref.get(tupleKey(t));
      expect(got?.entry).toBe(want?.entry);
      expect(got?.dir).toBe(want?.dir);
      if (t.proto !== 'icmp' && t.proto !== 'icmpv6') {
        const inv = invertTuple(t)!;
        expect(index.getInverse(t)?.entry).toBe(ref.get(tupleKey(inv))?.entry);
      }
    }
  });

  it('finds a packet by its wire tuple without building it (ports, ICMP id/type/code)', () => {
    const index = new TupleIndex();
    const a = v4(0x0af40105);
    const b = v4(0x0a60000a);
    const pTcp = packet({ proto: 'tcp', src: a, dst: b, sport: 40000, dport: 80 });
    const pIcmp = packet({ proto: 'icmp', src: a, dst: b, icmp: { type: 8, code: 0, id: 77 } });
    const pIcmpNoBody = packet({ proto: 'icmp', src: a, dst: b });
    const e1 = fakeEntry(1);
    const e2 = fakeEntry(2);
    const e3 = fakeEntry(3);
    for (const [p, e] of [
      [pTcp, e1],
      [pIcmp, e2],
      [pIcmpNoBody, e3],
    ] as const) {
      const t = tupleOf(p);
      index.set(t, hashOfTuple(t), e, 'ORIGINAL');
    }
    expect(index.getPacket(pTcp)?.entry).toBe(e1);
    expect(index.getPacket(pIcmp)?.entry).toBe(e2);
    expect(index.getPacket(pIcmpNoBody)?.entry).toBe(e3);
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
    // Slots are chained per hash and told apart by their fields: force one hash for two tuples.
    const a: Tuple = { family: 4, proto: 'udp', src: v4(1), dst: v4(2), sport: 3, dport: 53 };
    const b: Tuple = { ...a, sport: 4 };
    const index = new TupleIndex();
    const h = 12345; // the same (forced) hash for both
    index.set(a, h, fakeEntry(1), 'ORIGINAL');
    index.set(b, h, fakeEntry(2), 'REPLY');
    expect(index.get(a, h)?.dir).toBe('ORIGINAL');
    expect(index.get(b, h)?.dir).toBe('REPLY');
    index.delete(a, h);
    expect(index.get(a, h)).toBeUndefined();
    expect(index.get(b, h)?.dir).toBe('REPLY');
    index.delete(b, h);
    expect(index.get(b, h)).toBeUndefined();
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
