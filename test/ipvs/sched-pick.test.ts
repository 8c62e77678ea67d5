/**
 * Scheduler.pick (the pick without its explanation, for the walker's walks that record no stages)
 * against Scheduler.schedule, for every scheduler that has one: two twin tables with the same
 * service, one asked through schedule and one through pick, packet for packet, while real servers
 * are added, deleted, re-weighted (0 included), overloaded and given connections between picks. The
 * picks must be the same real server every time (or none for both), which also holds the
 * schedulers' own state (rr's cursor, wrr's cursor and current weight) in step.
 */
import { describe, expect, it } from 'vitest';
import { parseIP } from '../../netmodel/addr.js';
import { type IpvsService, IpvsTable } from '../../netmodel/ipvs/index.js';
import type { IpvsSchedFlag, IpvsSchedulerName } from '../../netmodel/ipvs/types.js';
import { intBelow, SeededRng } from '../../netmodel/rng.js';
import { rs, tcp, vs } from './builders.js';

const POOL = ['10.244.1.5', '10.244.1.6', '10.244.2.5', '10.244.2.6', '10.244.3.7', '10.244.3.8'];

interface Twin {
  table: IpvsTable;
  svc: IpvsService;
}

function twin(scheduler: IpvsSchedulerName, flags: IpvsSchedFlag[], dests: [string, number][]): Twin {
  // twos draws from the table's rng: each twin gets its own, seeded alike.
  const table = new IpvsTable({ rng: new SeededRng(5) });
  const svc = table.addService(
    vs(
      '10.96.0.10:80',
      scheduler,
      dests.map(([ip, w]) => rs(`${ip}:8080`, w)),
      { flags },
    ),
  );
  return { table, svc };
}

/** One random change, made alike on both twins. */
function change(rng: SeededRng, twins: readonly Twin[]): void {
  const op = intBelow(rng, 5);
  const ip = POOL[intBelow(rng, POOL.length)]!;
  const w = intBelow(rng, 4);
  const inact = intBelow(rng, 7);
  for (const { table, svc } of twins) {
    const d = svc.find(parseIP(ip), 8080);
    if (op === 0 && !d) table.addDest(svc, rs(`${ip}:8080`, w));
    else if (op === 1 && d && svc.dests.length > 1) table.deleteDest(svc, d);
    else if (op === 2 && d) table.editDest(svc, d, rs(`${ip}:8080`, w));
    else if (op === 3 && d) d.overloaded = !d.overloaded;
    else if (op === 4 && d) {
      d.activeConns = w * 3;
      d.inactConns = inact;
    }
  }
}

const CASES: { scheduler: IpvsSchedulerName; flags: IpvsSchedFlag[] }[] = [
  { scheduler: 'rr', flags: [] },
  { scheduler: 'wrr', flags: [] },
  { scheduler: 'lc', flags: [] },
  { scheduler: 'wlc', flags: [] },
  { scheduler: 'sed', flags: [] },
  { scheduler: 'nq', flags: [] },
  { scheduler: 'fo', flags: [] },
  { scheduler: 'ovf', flags: [] },
  { scheduler: 'sh', flags: [] },
  { scheduler: 'sh', flags: ['sh-port'] },
  { scheduler: 'sh', flags: ['sh-fallback', 'sh-port'] },
  { scheduler: 'dh', flags: [] },
  { scheduler: 'mh', flags: [] },
  { scheduler: 'mh', flags: ['mh-fallback', 'mh-port'] },
  { scheduler: 'twos', flags: [] },
  { scheduler: 'lblc', flags: [] },
  { scheduler: 'lblcr', flags: [] },
];

describe('Scheduler.pick against Scheduler.schedule', () => {
  for (const { scheduler, flags } of CASES) {
    it(`${scheduler}${flags.length ? ` (${flags.join(',')})` : ''}: the same real server, pick for pick`, () => {
      const rng = new SeededRng(17);
      const dests: [string, number][] = POOL.slice(0, 4).map((ip) => [ip, intBelow(rng, 4)]);
      const a = twin(scheduler, flags, dests);
      const b = twin(scheduler, flags, dests);
      expect(b.svc.sched.pick).toBeTypeOf('function');
      const picked = new Set<string>();
      let none = 0;
      for (let i = 0; i < 3000; i++) {
        if (intBelow(rng, 4) === 0) change(rng, [a, b]);
        const p = tcp(
          `10.0.${intBelow(rng, 4)}.${1 + intBelow(rng, 200)}:${1024 + intBelow(rng, 60000)}`,
          `10.96.0.${10 + intBelow(rng, 3)}:80`,
        );
        // Ten minutes between picks: lblcr's sets shrink (24 h unchanged) and lblc's entries expire along the run.
        const now = i * 600_000;
        const want = a.svc.sched.schedule(a.svc, p, now).dest?.name;
        const got = b.svc.sched.pick!(b.svc, p, now)?.name;
        expect(got, `pick ${i}`).toBe(want);
        if (want) picked.add(want);
        else none++;
      }
      // The run met both outcomes and more than one real server (it could tell a wrong pick).
      expect(picked.size).toBeGreaterThan(1);
      expect(none).toBeGreaterThan(0);
    });
  }
});
