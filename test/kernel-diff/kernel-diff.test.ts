/**
 * The emulated kernel checked against the real one: the same rules in real iptables inside network
 * namespaces this file creates (and deletes), real connections through them, and the emulator's
 * prediction for the same connections. See harness.ts for what is compared.
 *
 *   KPATH_KERNEL_CASES   connections in the random run (default 1000); `npm run test:kernel -- --cases N`
 *   KPATH_KERNEL_SEED    the generator's seed (default: random, printed)
 *   KPATH_KERNEL_ONLY    comma-separated scenario numbers to run alone (reproducing a mismatch)
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { SeededRng } from '../../netmodel/rng.js';
import { type Case, generateScenarios } from './generate.js';
import { compare, formatMismatch, type Mismatch, runEmulated, runReal } from './harness.js';
import { cleanupStale, RealTopology, unavailableReason } from './topology.js';
import { CLIENT_ADDRS as CLIENTS } from './topology-plan.js';

const CASES = Number(process.env.KPATH_KERNEL_CASES ?? 1000);
const SEED = process.env.KPATH_KERNEL_SEED
  ? Number(process.env.KPATH_KERNEL_SEED)
  : (Date.now() % 1_000_000_007) >>> 0;
const PER_SCENARIO = 8;
const ONLY = process.env.KPATH_KERNEL_ONLY
  ? new Set(process.env.KPATH_KERNEL_ONLY.split(',').map(Number))
  : undefined;

const reason = await unavailableReason();
if (reason) console.warn(`kernel-diff skipped: ${reason}`);

describe.skipIf(reason !== undefined)('the emulated kernel against real Linux (network namespaces)', () => {
  const topo = new RealTopology();

  beforeAll(async () => {
    await cleanupStale();
    await topo.up();
  }, 60_000);

  afterAll(async () => {
    await topo.down();
  }, 60_000);

  it(`random rulesets and connections agree (${CASES} cases)`, async () => {
    console.log(`kernel-diff: seed ${SEED} (rerun with KPATH_KERNEL_SEED=${SEED}), ${CASES} cases`);
    const scenarios = generateScenarios(new SeededRng(SEED), {
      seed: SEED,
      cases: CASES,
      perScenario: PER_SCENARIO,
    });
    const mismatches: Mismatch[] = [];
    let loadErrors = 0;
    for (const s of scenarios) {
      if (ONLY && !ONLY.has(s.index)) continue;
      const real = await runReal(topo, s);
      const emulated = runEmulated(s, real.firedAt);
      if (real.loadError) loadErrors++;
      const diffs = compare(s, real, emulated);
      if (diffs.length > 0) {
        const m = { scenario: s, real, emulated, diffs };
        mismatches.push(m);
        console.error(formatMismatch(m, SEED));
      }
    }
    console.log(
      `kernel-diff: ${scenarios.length} rulesets, ${CASES} cases, ${loadErrors} rulesets refused by both, ${mismatches.length} mismatching rulesets`,
    );
    expect(mismatches.map((m) => `scenario ${m.scenario.index}: ${m.diffs[0]}`)).toEqual([]);
  }, 3_600_000);
});

// ---- probabilistic rules: distributions, and recent-based affinity --------------------------------

const SVC_HEAD = [
  '*nat',
  ':PREROUTING ACCEPT [0:0]',
  ':INPUT ACCEPT [0:0]',
  ':OUTPUT ACCEPT [0:0]',
  ':POSTROUTING ACCEPT [0:0]',
];

/** Chi-square goodness of fit against expected proportions. */
function chiSquareFit(obs: readonly number[], p: readonly number[]): number {
  const n = obs.reduce((x, y) => x + y, 0);
  return obs.reduce((chi, o, i) => chi + (o - n * p[i]!) ** 2 / (n * p[i]!), 0);
}

/** chi-square critical values at p = 0.0001 by degrees of freedom. */
const CHI2_9999 = [0, 15.14, 18.42, 21.11];

let probePort = 61000;
const probeCase = (id: string, src: string, dst: string, dport: number, pauseMs?: number) => ({
  id,
  proto: 'tcp' as const,
  src,
  sport: probePort++,
  dst,
  dport,
  ...(pauseMs ? { pauseMs } : {}),
});

describe.skipIf(reason !== undefined)('probabilistic rules against real Linux', () => {
  const topo = new RealTopology(`${process.pid}p`);
  beforeAll(async () => {
    await cleanupStale();
    await topo.up();
  }, 60_000);
  afterAll(async () => {
    await topo.down();
  }, 60_000);

  it('statistic --mode random spreads connections like the kernel (chi-square, p = 0.0001)', async () => {
    const rules = [
      ...SVC_HEAD,
      '-A PREROUTING -d 10.96.0.10/32 -p tcp -m tcp --dport 80 -m statistic --mode random --probability 0.33333333349 -j DNAT --to-destination 10.10.2.2:80',
      '-A PREROUTING -d 10.96.0.10/32 -p tcp -m tcp --dport 80 -m statistic --mode random --probability 0.50000000000 -j DNAT --to-destination 10.10.2.3:80',
      '-A PREROUTING -d 10.96.0.10/32 -p tcp -m tcp --dport 80 -j DNAT --to-destination 10.10.2.2:8080',
      'COMMIT',
      '',
    ].join('\n');
    const backends = ['10.10.2.2:80', '10.10.2.3:80', '10.10.2.2:8080'];
    const N = 300;
    const cases = Array.from({ length: N }, (_, i) => probeCase(`r${i}`, CLIENTS[i % 3]!, '10.96.0.10', 80));
    const s = { index: 10_001, rules, guarded: false, sequential: false, cases };
    const real = await runReal(topo, s);
    const emu = runEmulated(s, real.firedAt, new SeededRng(SEED));
    const count = (side: typeof real, of: readonly Case[]) =>
      backends.map((b) => of.filter((c) => side.answers.get(c.id)?.seen?.local === b).length);
    const rc = count(real, cases);
    // The emulator is cheap: draw a large sample of its own (seeded from this run's seed, so every run
    // checks a fresh one) for a sharp test of its distribution.
    const sample = Array.from({ length: 30_000 }, (_, i) => ({
      ...cases[0]!,
      id: `e${i}`,
      src: CLIENTS[i % 3]!,
      sport: 1024 + Math.floor(i / 3),
    }));
    const big = runEmulated({ ...s, cases: sample }, new Map(), new SeededRng(SEED ^ 0x5bd1e995));
    const ec = count(big, sample);
    const report = `real ${rc.join('/')} of ${N}, emulator ${ec.join('/')} of ${sample.length} (${backends.join(', ')}; seed ${SEED})`;
    console.log(`kernel-diff statistic: ${report}`);
    // Every connection answered on both sides; only the choice of backend is random.
    expect(
      rc.reduce((x, y) => x + y, 0),
      report,
    ).toBe(N);
    expect(
      ec.reduce((x, y) => x + y, 0),
      report,
    ).toBe(sample.length);
    // The rules give each backend 1/3 (0.33333333349, then 1/2 of the rest, then the rest). Both the
    // kernel's sample and the emulator's must fit that. p = 0.0001 keeps a correct kernel and a
    // correct emulator failing this less than once in 5,000 runs; a wrong probability (say 1/2 for
    // the first rule) still fails it by far with 300 connections.
    expect(chiSquareFit(rc, [1 / 3, 1 / 3, 1 / 3]), report).toBeLessThan(CHI2_9999[2]!);
    expect(chiSquareFit(ec, [1 / 3, 1 / 3, 1 / 3]), report).toBeLessThan(CHI2_9999[2]!);
    // Everything that is not random agrees exactly: the nat counters of the first rule and the
    // policy, and the conntrack entries' count.
    expect(emu.counters.get('nat/PREROUTING/policy')).toBe(real.counters.get('nat/PREROUTING/policy'));
    expect(emu.conntrack.length).toBe(real.conntrack.length);
  }, 60_000);

  it('recent: ClientIP affinity sticks per client and expires after --seconds, as the kernel does', async () => {
    // kube-proxy's sessionAffinity: ClientIP shape, with a 1 s timeout.
    const rules = [
      ...SVC_HEAD,
      ':SVC - [0:0]',
      ':SEPA - [0:0]',
      ':SEPB - [0:0]',
      '-A PREROUTING -d 10.96.0.11/32 -p tcp -m tcp --dport 80 -j SVC',
      '-A SVC -m recent --rcheck --seconds 1 --reap --name SEPA --mask 255.255.255.255 --rsource -j SEPA',
      '-A SVC -m recent --rcheck --seconds 1 --reap --name SEPB --mask 255.255.255.255 --rsource -j SEPB',
      '-A SVC -m statistic --mode random --probability 0.50000000000 -j SEPA',
      '-A SVC -j SEPB',
      '-A SEPA -p tcp -m recent --set --name SEPA --mask 255.255.255.255 --rsource -j DNAT --to-destination 10.10.2.2:80',
      '-A SEPB -p tcp -m recent --set --name SEPB --mask 255.255.255.255 --rsource -j DNAT --to-destination 10.10.2.3:80',
      'COMMIT',
      '',
    ].join('\n');
    const cases: Case[] = [];
    for (let round = 0; round < 2; round++)
      for (let k = 0; k < 4; k++)
        for (const [j, src] of CLIENTS.entries())
          cases.push(
            probeCase(
              `a${round}-${k}-${j}`,
              src,
              '10.96.0.11',
              80,
              round === 1 && k === 0 && j === 0 ? 1300 : 0,
            ),
          );
    const s = { index: 10_002, rules, guarded: false, sequential: true, cases };
    const real = await runReal(topo, s);
    const emu = runEmulated(s, real.firedAt);
    const show = (side: typeof real) =>
      cases
        .map((c) => `${c.id}=${side.answers.get(c.id)?.seen?.local ?? side.answers.get(c.id)?.result}`)
        .join(' ');
    expect(real.loadError ?? emu.loadError).toBeUndefined();
    console.log(`kernel-diff affinity:\n  real     ${show(real)}\n  emulator ${show(emu)}`);
    for (const side of [real, emu]) {
      for (const [j] of CLIENTS.entries())
        for (let round = 0; round < 2; round++) {
          const got = new Set(
            [0, 1, 2, 3].map((k) => side.answers.get(`a${round}-${k}-${j}`)?.seen?.local ?? 'none'),
          );
          // Within --seconds every connection of a client goes to the same backend.
          expect(
            got.size,
            `${side === real ? 'real' : 'emulator'} client ${CLIENTS[j]} round ${round}: ${[...got]}`,
          ).toBe(1);
          expect([...got][0]).toMatch(/^10\.10\.2\.[23]:80$/);
        }
    }
    // The recent lists: each client is in exactly the list of the backend it last went to.
    const listed = async (name: string) =>
      (await topo.recentList(name))
        .split('\n')
        .map((l) => /^src=(\S+)/.exec(l)?.[1])
        .filter((x): x is string => x !== undefined)
        .sort();
    const lastBackend = (side: typeof real, j: number) => side.answers.get(`a1-3-${j}`)?.seen?.local;
    const expectA = CLIENTS.filter((_, j) => lastBackend(real, j) === '10.10.2.2:80').sort();
    const expectB = CLIENTS.filter((_, j) => lastBackend(real, j) === '10.10.2.3:80').sort();
    expect(await listed('SEPA')).toEqual(expectA);
    expect(await listed('SEPB')).toEqual(expectB);
  }, 60_000);

  it('recent: a deterministic --rcheck/--set pair agrees exactly, across the expiry', async () => {
    const rules = [
      ...SVC_HEAD,
      '-A PREROUTING -d 10.96.0.11/32 -p tcp -m tcp --dport 443 -m recent --rcheck --seconds 1 --reap --name AFF --rsource -j DNAT --to-destination 10.10.2.3:443',
      '-A PREROUTING -d 10.96.0.11/32 -p tcp -m tcp --dport 443 -m recent --set --name AFF --rsource -j DNAT --to-destination 10.10.2.2:443',
      'COMMIT',
      '',
    ].join('\n');
    const cases = [
      probeCase('d0', '10.10.1.2', '10.96.0.11', 443),
      probeCase('d1', '10.10.1.2', '10.96.0.11', 443),
      probeCase('d2', '10.10.1.3', '10.96.0.11', 443),
      probeCase('d3', '10.10.1.2', '10.96.0.11', 443, 1300),
      probeCase('d4', '10.10.1.2', '10.96.0.11', 443),
      probeCase('d5', '10.10.1.3', '10.96.0.11', 443),
    ];
    const s = { index: 10_003, rules, guarded: false, sequential: true, cases };
    const real = await runReal(topo, s);
    const emu = runEmulated(s, real.firedAt);
    const diffs = compare(s, real, emu);
    if (diffs.length > 0) console.error(formatMismatch({ scenario: s, real, emulated: emu, diffs }, 0));
    expect(diffs).toEqual([]);
    expect(real.answers.get('d3')?.seen?.local).toBe('10.10.2.2:443');
  }, 60_000);
});
