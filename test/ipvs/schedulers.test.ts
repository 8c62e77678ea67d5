/**
 * Each scheduler against worked examples computed from the kernel's C code (net/netfilter/ipvs/
 * ip_vs_*.c), not from kpath. Real servers are added with ipvsadm -a in the order given; the kernel
 * links each at the head of svc->destinations, so its list is the reverse.
 */
import { describe, expect, it } from 'vitest';
import { parseIP } from '../../netmodel/addr.js';
import {
  addrFold,
  type IpvsService,
  IpvsTable,
  MaglevHash,
  MH_HASH1,
  mhHashKey,
  mhPermutation,
  mhPopulate,
} from '../../netmodel/ipvs/index.js';
import { rs, tcp, vs } from './builders.js';

function pick(svc: IpvsService, from: string, to = '10.96.0.10:80', now = 0): string | undefined {
  const p = tcp(from, to);
  return svc.sched.schedule(svc, p, now).dest?.name;
}

function service(spec: ReturnType<typeof vs>): { table: IpvsTable; svc: IpvsService } {
  const table = new IpvsTable();
  const svc = table.addService(spec);
  return { table, svc };
}

describe('rr (ip_vs_rr.c)', () => {
  it('walks the kernel list from the head: the last added first', () => {
    const { svc } = service(
      vs('10.96.0.10:80', 'rr', [rs('10.244.1.2:8080'), rs('10.244.2.3:8080'), rs('10.244.3.4:8080')]),
    );
    // list: .3.4, .2.3, .1.2 (head insertion); cursor starts at the head.
    const seq = Array.from({ length: 4 }, () => pick(svc, '10.0.0.1:1000'));
    expect(seq).toEqual(['10.244.3.4:8080', '10.244.2.3:8080', '10.244.1.2:8080', '10.244.3.4:8080']);
  });

  it('skips weight 0 and moves the cursor back when its dest is deleted', () => {
    const { table, svc } = service(
      vs('10.96.0.10:80', 'rr', [rs('10.0.1.1:80'), rs('10.0.1.2:80', 0), rs('10.0.1.3:80')]),
    );
    expect([pick(svc, '1.1.1.1:1'), pick(svc, '1.1.1.1:1'), pick(svc, '1.1.1.1:1')]).toEqual([
      '10.0.1.3:80',
      '10.0.1.1:80',
      '10.0.1.3:80',
    ]);
    // Cursor on .3 (the head entry). Deleting it puts the cursor on the list head (p->next->prev),
    // so the next pick is the new first entry, .2 (weight 0, skipped), then .1.
    table.deleteDest(svc, svc.find(parseIP('10.0.1.3'), 80)!);
    expect(pick(svc, '1.1.1.1:1')).toBe('10.0.1.1:80');
  });
});

describe('wrr (ip_vs_wrr.c)', () => {
  it('A=4, B=3, C=2 in list order A,B,C: the history of adds, then the 9-long cycle', () => {
    // ipvsadm -A makes the service empty: init_svc gives di 1, mw 0, cw 0. Adding C (w 2):
    // dest_changed gives di 2, mw 2 - 1 = 1, and cw == 0 becomes mw = 1. Adding B (w 3): di 1, mw 3,
    // cw 1 stays (not > mw, not 0, di 1). Adding A (w 4): mw 4, cw 1 stays. So the first round runs
    // at cw 1: A B C. Then cw 0 -> mw 4: A; cw 3: A B; cw 2: A B C; cw 1: A B C; ...
    const { svc } = service(
      vs('10.96.0.10:80', 'wrr', [rs('10.0.0.3:80', 2), rs('10.0.0.2:80', 3), rs('10.0.0.1:80', 4)]),
    );
    const names = { '10.0.0.1:80': 'A', '10.0.0.2:80': 'B', '10.0.0.3:80': 'C' } as Record<string, string>;
    const seq = Array.from({ length: 21 }, () => names[pick(svc, '1.1.1.1:1')!]).join('');
    expect(seq).toBe('ABC' + 'AABABCABC' + 'AABABCABC');
  });

  it('A=4, B=2 steps by the gcd: A A B', () => {
    // Adding B (w 2): di 2, mw 2 - 1 = 1, cw 0 -> 1. Adding A (w 4): di 2, mw 4 - 1 = 3; cw 1 is
    // kept and rounded: (1 / 2) * 2 + 1 = 1. cw 1: A B; cw -1 -> mw 3: A; cw 1: A B; ...
    const { svc } = service(vs('10.96.0.10:80', 'wrr', [rs('10.0.0.2:80', 2), rs('10.0.0.1:80', 4)]));
    const seq = Array.from({ length: 8 }, () => (pick(svc, '1.1.1.1:1') === '10.0.0.1:80' ? 'A' : 'B')).join(
      '',
    );
    expect(seq).toBe('AB' + 'AAB' + 'AAB');
  });
});

describe('lc, wlc, sed, nq', () => {
  function loaded(s: 'lc' | 'wlc' | 'sed' | 'nq', weights: number[], counts: [number, number][]) {
    const dests = weights.map((w, i) => rs(`10.0.2.${i + 1}:80`, w));
    const { svc } = service(vs('10.96.0.10:80', s, dests));
    // svc.dests is kernel order (last added first); set counts in added order.
    const added = [...svc.dests].reverse();
    counts.forEach(([a, i], k) => {
      added[k]!.activeConns = a;
      added[k]!.inactConns = i;
    });
    return svc;
  }

  it('lc takes the smallest active*256 + inactive, ties to the earlier in list order', () => {
    // overheads: .1 = 1*256+0 = 256, .2 = 0*256+300 = 300, .3 = 0*256+10 = 10 -> .3
    expect(
      pick(
        loaded(
          'lc',
          [1, 1, 1],
          [
            [1, 0],
            [0, 300],
            [0, 10],
          ],
        ),
        '1.1.1.1:1',
      ),
    ).toBe('10.0.2.3:80');
    // equal overheads: the list is .3, .2, .1, so .3 (first) wins the tie.
    expect(
      pick(
        loaded(
          'lc',
          [1, 1, 1],
          [
            [0, 5],
            [0, 5],
            [0, 5],
          ],
        ),
        '1.1.1.1:1',
      ),
    ).toBe('10.0.2.3:80');
  });

  it('wlc divides the overhead by the weight (cross-multiplied)', () => {
    // .1: w 1, overhead 256; .2: w 3, overhead 512 (2 active) -> 512/3 < 256/1 -> .2
    expect(
      pick(
        loaded(
          'wlc',
          [1, 3],
          [
            [1, 0],
            [2, 0],
          ],
        ),
        '1.1.1.1:1',
      ),
    ).toBe('10.0.2.2:80');
  });

  it('sed ignores inactive connections: (active + 1) / weight', () => {
    // .1: w 1, active 0, inactive 900 -> 1/1; .2: w 1, active 1 -> 2/1 -> .1 (wlc would pick .2)
    expect(
      pick(
        loaded(
          'sed',
          [1, 1],
          [
            [0, 900],
            [1, 0],
          ],
        ),
        '1.1.1.1:1',
      ),
    ).toBe('10.0.2.1:80');
  });

  it('nq sends to an idle server whatever its weight', () => {
    // .1 w 10 active 1 (cost 2/10), .2 w 1 active 0 (idle) -> .2 at once
    expect(
      pick(
        loaded(
          'nq',
          [10, 1],
          [
            [1, 0],
            [0, 0],
          ],
        ),
        '1.1.1.1:1',
      ),
    ).toBe('10.0.2.2:80');
  });
});

describe('sh (ip_vs_sh.c)', () => {
  const three = [rs('10.244.1.2:8080'), rs('10.244.2.3:8080'), rs('10.244.3.4:8080')];

  it('buckets the source address with hash_32(addr, 8) over 256 buckets filled round robin', () => {
    const { svc } = service(vs('10.96.0.10:80', 'sh', three));
    // 10.244.1.5: hash_32(0x0AF40105, 8) = 0x731CE663 >> 24 = 115. Buckets hold the list
    // (.3.4, .2.3, .1.2) in turn, so bucket 115 holds list[115 % 3 = 1] = 10.244.2.3.
    expect(pick(svc, '10.244.1.5:40000')).toBe('10.244.2.3:8080');
    // 10.0.0.1 -> bucket 39 -> list[0] = 10.244.3.4
    expect(pick(svc, '10.0.0.1:1234')).toBe('10.244.3.4:8080');
    const why = svc.sched.schedule(svc, tcp('10.244.1.5:40000', '10.96.0.10:80'), 0).why;
    expect(why).toMatchObject({ scheduler: 'sh', bucket: 115 });
  });

  it('gives each dest `weight` consecutive buckets', () => {
    // Added A (w 2) then B (w 1): list B, A. Buckets: 0 B, 1 A, 2 A, 3 B, ... so i % 3 == 0 -> B.
    const { svc } = service(vs('10.96.0.10:80', 'sh', [rs('10.0.3.1:80', 2), rs('10.0.3.2:80', 1)]));
    expect(pick(svc, '10.244.1.5:1')).toBe('10.0.3.1:80'); // bucket 115, 115 % 3 = 1 -> A
    expect(pick(svc, '10.0.0.1:1')).toBe('10.0.3.2:80'); // bucket 39, 39 % 3 = 0 -> B
  });

  it('sh-port adds the source port before hashing', () => {
    // hash_32(0x0AF40105 + 40000, 8) = 23; 23 % 3 = 2 -> list[2] = 10.244.1.2
    const { svc } = service(vs('10.96.0.10:80', 'sh', three, { flags: ['sh-port'] }));
    expect(pick(svc, '10.244.1.5:40000')).toBe('10.244.1.2:8080');
  });

  it('refuses a weight-0 bucket; sh-fallback probes (2*ihash + k) & 255', () => {
    const spec = vs('10.96.0.10:80', 'sh', [
      rs('10.244.1.2:8080'),
      rs('10.244.2.3:8080'),
      rs('10.244.3.4:8080', 0),
    ]);
    // 10.0.0.1 -> bucket 39 -> list[0] = 10.244.3.4, weight 0 (it still holds one bucket in turn).
    expect(pick(service(spec).svc, '10.0.0.1:1')).toBeUndefined();
    // Fallback: k = 0 -> roffset (0 + 39) -> bucket (39 + 39) & 255 = 78 -> list[0] again (78 % 3 = 0),
    // k = 1 -> bucket 79 -> list[1] = 10.244.2.3.
    const { svc } = service({ ...spec, flags: ['sh-fallback'] });
    expect(pick(svc, '10.0.0.1:1')).toBe('10.244.2.3:8080');
    expect(svc.sched.schedule(svc, tcp('10.0.0.1:1', '10.96.0.10:80'), 0).why).toMatchObject({
      probes: [78, 79],
    });
  });
});

describe('dh (ip_vs_dh.c)', () => {
  it('hashes the destination address, one bucket per dest', () => {
    // hash_32(10.96.0.10 = 0x0A60000A, 8) = 242; 242 % 3 = 2 -> list[2] = the first added.
    const { svc } = service(
      vs('10.96.0.10:80', 'dh', [rs('10.0.4.1:80'), rs('10.0.4.2:80'), rs('10.0.4.3:80')]),
    );
    expect(pick(svc, '1.2.3.4:5', '10.96.0.10:80')).toBe('10.0.4.1:80');
  });
});

describe('mh (ip_vs_mh.c)', () => {
  // Datapath fact sheet 1.9 [C]: three real servers added .1.2, .2.3, .3.4 (list .3.4, .2.3, .1.2).
  const three = [rs('10.244.1.2:8080'), rs('10.244.2.3:8080'), rs('10.244.3.4:8080')];

  it('permutation offsets and skips from hsiphash of the real server (M = 251 and 4093)', () => {
    const { svc } = service(vs('10.96.0.10:80', 'mh', three));
    const at = (m: number) => svc.dests.map((d) => mhPermutation(d, m));
    expect(at(251)).toEqual([
      { offset: 189, skip: 66 },
      { offset: 2, skip: 214 },
      { offset: 57, skip: 55 },
    ]);
    expect(at(4093)).toEqual([
      { offset: 4043, skip: 3320 },
      { offset: 1575, skip: 3984 },
      { offset: 1139, skip: 3991 },
    ]);
  });

  it('populates 4093 slots 1365/1364/1364 and looks clients up', () => {
    const { svc } = service(vs('10.96.0.10:80', 'mh', three));
    const table = mhPopulate(svc.dests, 4093);
    const count = (n: string) => table.filter((d) => d?.name === n).length;
    expect([count('10.244.3.4:8080'), count('10.244.2.3:8080'), count('10.244.1.2:8080')]).toEqual([
      1365, 1364, 1364,
    ]);
    const short = (n: string | undefined) => n?.replace('10.244', '').replace(':8080', '');
    expect(table.slice(0, 12).map((d) => short(d?.name))).toEqual([
      '.3.4',
      '.2.3',
      '.2.3',
      '.3.4',
      '.3.4',
      '.3.4',
      '.1.2',
      '.2.3',
      '.1.2',
      '.3.4',
      '.3.4',
      '.3.4',
    ]);
    // 10.0.0.1 -> slot 3711 -> .3.4; 192.168.1.100 -> slot 1341 -> .2.3
    expect(mhHashKey(addrFold(parseIP('10.0.0.1')), 0, MH_HASH1, 0) % 4093).toBe(3711);
    expect(pick(svc, '10.0.0.1:999')).toBe('10.244.3.4:8080');
    expect(pick(svc, '192.168.1.100:999')).toBe('10.244.2.3:8080');
  });

  it('M = 251: h1(10.0.0.1) = 0x03080ce4, slot 110 -> .2.3; removing .2.3 changes 89 slots', () => {
    expect(mhHashKey(addrFold(parseIP('10.0.0.1')), 0, MH_HASH1, 0)).toBe(0x03080ce4);
    const { table, svc } = service(vs('10.96.0.10:80', 'mh', three));
    const mh = new MaglevHash(251);
    expect(mh.table(svc)[110]?.name).toBe('10.244.2.3:8080');
    const before = mh.table(svc).map((d) => d?.name);
    table.deleteDest(svc, svc.find(parseIP('10.244.2.3'), 8080)!);
    mh.changed();
    const changed = mh.table(svc).filter((d, i) => d?.name !== before[i]).length;
    expect(changed).toBe(89);
  });

  /**
   * Maglev's promise: removing one of N servers moves about 1/N of the clients (those it served) and
   * few others. Sampled over 30,000 client addresses through the real lookup. With the kernel's
   * default table (M = 4093) the extra movement grows with N (measured: N = 3 -> +0.05 points,
   * N = 5 -> +0.6, N = 10 -> +4.7 when the middle server goes); CONFIG_IP_VS_MH_TAB_INDEX = 16
   * (M = 65521) keeps N = 10 within +0.3 points, the paper's M >> 100 N rule.
   */
  function disruption(n: number, m: number | undefined, removed: number) {
    const dests = Array.from({ length: n }, (_, i) => rs(`10.244.${i + 1}.10:8080`));
    const { table, svc } = service(vs('10.96.0.10:80', 'mh', dests));
    if (m) {
      svc.sched = new MaglevHash(m);
    }
    const sources = 30000;
    const src = (i: number) => `10.${(i >> 16) & 255}.${(i >> 8) & 255}.${i & 255}:1000`;
    const before = Array.from({ length: sources }, (_, i) => pick(svc, src(i + 7)));
    const gone = `10.244.${removed}.10:8080`;
    table.deleteDest(svc, svc.find(parseIP(`10.244.${removed}.10`), 8080)!);
    const after = Array.from({ length: sources }, (_, i) => pick(svc, src(i + 7)));
    let moved = 0;
    let lost = 0;
    for (let i = 0; i < sources; i++) {
      if (before[i] !== after[i]) moved++;
      if (before[i] === gone) lost++;
    }
    return { moved: moved / sources, lost: lost / sources };
  }

  it('removing one of 3 servers (M = 4093) moves 1/3 of the sources, within 1 %', () => {
    const r = disruption(3, undefined, 2);
    expect(Math.abs(r.moved - 1 / 3)).toBeLessThan(0.01);
    expect(r.moved).toBeGreaterThanOrEqual(r.lost);
  });

  it('removing one of 10 servers (M = 65521) moves 1/10 of the sources, within 1 %', () => {
    const r = disruption(10, 65521, 5);
    expect(Math.abs(r.moved - 1 / 10)).toBeLessThan(0.01);
    expect(r.moved).toBeGreaterThanOrEqual(r.lost);
  });

  it('quiescing (weight 0) keeps the table: only its own clients lose, mh-fallback rehashes them', () => {
    const spec = vs('10.96.0.10:80', 'mh', three);
    const { table, svc } = service(spec);
    const d = svc.find(parseIP('10.244.2.3'), 8080)!;
    table.editDest(svc, d, { ...rs('10.244.2.3:8080'), weight: 0 });
    expect(pick(svc, '192.168.1.100:1')).toBeUndefined();
    expect(pick(svc, '10.0.0.1:1')).toBe('10.244.3.4:8080');
    const fb = service({ ...spec, flags: ['mh-fallback'] });
    fb.table.editDest(fb.svc, fb.svc.find(parseIP('10.244.2.3'), 8080)!, {
      ...rs('10.244.2.3:8080'),
      weight: 0,
    });
    expect(pick(fb.svc, '192.168.1.100:1')).toMatch(/^10\.244\.(1\.2|3\.4):8080$/);
  });
});

describe('lblc / lblcr', () => {
  it('lblc caches the destination address on a weighted least-connection pick', () => {
    const { svc } = service(vs('10.96.0.10:80', 'lblc', [rs('10.0.5.1:80'), rs('10.0.5.2:80')]));
    // List .2, .1; both idle: wlc keeps the first, .2. Then load .2: the cache still says .2
    // (active 1 is not > weight 1).
    expect(pick(svc, '1.1.1.1:1')).toBe('10.0.5.2:80');
    svc.dests[0]!.activeConns = 1;
    expect(svc.sched.schedule(svc, tcp('1.1.1.1:1', '10.96.0.10:80'), 1000).why).toMatchObject({
      cacheHit: true,
    });
    // active 2 > weight 1 while .1 has 0*2 < 1: overloaded in lblc's sense -> wlc picks .1.
    svc.dests[0]!.activeConns = 2;
    expect(pick(svc, '1.1.1.1:1', '10.96.0.10:80', 2000)).toBe('10.0.5.1:80');
  });

  it('lblc entries unused for 24 h go at the 30th periodic check', () => {
    const { svc } = service(vs('10.96.0.10:80', 'lblc', [rs('10.0.5.1:80')]));
    pick(svc, '1.1.1.1:1', '10.96.0.10:80', 0);
    const s = svc.sched as unknown as { size: number };
    expect(s.size).toBe(1);
    // Checks run every 60 s; full checks at the 30th run (t = 30 min) and every 30 runs after.
    // 24 h after last use the first full check at or after it (t = 24 h exactly: 1440 min is a multiple of 30).
    svc.sched.schedule(svc, tcp('2.2.2.2:1', '10.96.0.11:80'), 24 * 3600_000 - 60_000);
    expect(s.size).toBe(2);
    svc.sched.schedule(svc, tcp('2.2.2.2:1', '10.96.0.11:80'), 24 * 3600_000);
    expect(s.size).toBe(1);
  });
});

describe('lblcr (ip_vs_lblcr.c)', () => {
  it('grows the set of a busy destination and drops its most loaded server after lblcr_expiration', () => {
    const { svc } = service(vs('10.96.0.10:80', 'lblcr', [rs('10.0.6.1:80'), rs('10.0.6.2:80')]));
    const [b, a] = svc.dests; // list .2, .1
    // No entry: wlc over the service picks .2 (first, both idle); the set is {.2}.
    expect(pick(svc, '1.1.1.1:1', '10.96.0.10:80', 0)).toBe('10.0.6.2:80');
    // .2 busy (active 2 > weight 1) while .1 is idle (0*2 < 1): the set's least loaded (.2) is
    // overloaded in lblc's sense, so wlc over the service (.1) joins the set at its head.
    b!.activeConns = 2;
    expect(pick(svc, '1.1.1.1:1', '10.96.0.10:80', 1000)).toBe('10.0.6.1:80');
    const s = svc.sched as unknown as { cached(ip: unknown): { name: string }[] };
    expect(s.cached(parseIP('10.96.0.10')).map((d) => d.name)).toEqual(['10.0.6.1:80', '10.0.6.2:80']);
    // More than one server and the set unchanged for lblcr_expiration (24 h): the most loaded (.2) goes.
    a!.activeConns = 1;
    expect(pick(svc, '1.1.1.1:1', '10.96.0.10:80', 1000 + 24 * 3600_000 + 1)).toBe('10.0.6.1:80');
    expect(s.cached(parseIP('10.96.0.10')).map((d) => d.name)).toEqual(['10.0.6.1:80']);
  });
});

describe('fo and ovf (ip_vs_fo.c, ip_vs_ovf.c)', () => {
  it('fo sends everything to the highest weight that is not overloaded', () => {
    const { svc } = service(
      vs('10.96.0.10:80', 'fo', [rs('10.0.7.1:80', 5), rs('10.0.7.2:80', 10), rs('10.0.7.3:80', 10)]),
    );
    // list .3 (10), .2 (10), .1 (5): strict `>` keeps the first of the two 10s, .3.
    expect(pick(svc, '1.1.1.1:1')).toBe('10.0.7.3:80');
    svc.dests[0]!.overloaded = true;
    expect(pick(svc, '1.1.1.1:1')).toBe('10.0.7.2:80');
  });

  it('ovf overflows to the next weight once active connections exceed the weight', () => {
    const { svc } = service(vs('10.96.0.10:80', 'ovf', [rs('10.0.8.1:80', 1), rs('10.0.8.2:80', 2)]));
    const [hi] = svc.dests; // .2, weight 2
    hi!.activeConns = 2; // not above its weight: still chosen
    expect(pick(svc, '1.1.1.1:1')).toBe('10.0.8.2:80');
    hi!.activeConns = 3; // above: skipped
    expect(pick(svc, '1.1.1.1:1')).toBe('10.0.8.1:80');
  });
});

describe('ipvsChoices (kpath trace --all)', () => {
  it('rr and wrr: each usable server its share of the cycle; sh: the one the hash gives', async () => {
    const { ipvsChoices } = await import('../../netmodel/ipvs/index.js');
    const wrr = service(
      vs('10.96.0.10:80', 'wrr', [rs('10.0.9.1:80', 3), rs('10.0.9.2:80', 1), rs('10.0.9.3:80', 0)]),
    ).svc;
    const w = ipvsChoices(wrr, tcp('1.1.1.1:1', '10.96.0.10:80'), 0)!;
    expect(w.decidedBy).toBe('cycle');
    expect(w.choices.map((c) => [c.destination.name, c.probability])).toEqual([
      ['10.0.9.2:80', 0.25],
      ['10.0.9.1:80', 0.75],
    ]);
    const sh = service(
      vs('10.96.0.10:80', 'sh', [rs('10.244.1.2:8080'), rs('10.244.2.3:8080'), rs('10.244.3.4:8080')]),
    ).svc;
    const s = ipvsChoices(sh, tcp('10.244.1.5:40000', '10.96.0.10:80'), 0)!;
    expect(s).toMatchObject({ decidedBy: 'packet' });
    expect(s.choices.map((c) => c.destination.name)).toEqual(['10.244.2.3:8080']); // bucket 115, as above
  });
});

describe('twos (ip_vs_twos.c)', () => {
  /** A Rng that returns the given values in turn. */
  const seq = (...v: number[]) => ({ uint32: () => v.shift()! });

  it('draws two weighted servers from the random numbers and keeps the less loaded', () => {
    const spec = vs('10.96.0.10:80', 'twos', [rs('10.0.9.1:80'), rs('10.0.9.2:80'), rs('10.0.9.3:80')]);
    // List .3, .2, .1; total weight 3 + 1 = 4. r1 = 2 % 4 = 2, r2 = 0 % 4 = 0. Walking: .3 takes
    // r1 to 1 and r2 to -1 (choice 2 = .3); .2 takes r1 to 0 (choice 1 = .2).
    const t1 = new IpvsTable({ rng: seq(2, 0) });
    const s1 = t1.addService(spec);
    s1.dests[1]!.activeConns = 1; // .2 overhead 256 > .3's 0: 1 * 256 > 1 * 0 -> choice 2 (.3)
    expect(pick(s1, '1.1.1.1:1')).toBe('10.0.9.3:80');
    const t2 = new IpvsTable({ rng: seq(2, 0) });
    const s2 = t2.addService(spec);
    s2.dests[0]!.activeConns = 1; // now .3 is the loaded one -> choice 1 (.2) stays
    expect(pick(s2, '1.1.1.1:1')).toBe('10.0.9.2:80');
  });

  it('needs a seeded rng', () => {
    expect(() => new IpvsTable().addService(vs('10.96.0.10:80', 'twos', []))).toThrow(/seeded rng/);
  });
});
