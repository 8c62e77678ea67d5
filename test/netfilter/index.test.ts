import { describe, expect, it } from 'vitest';
import type { EvalContext, Ruleset } from '../../netmodel/netfilter/index.js';
import { compileTable, emptyRuleset, evaluate, loadRestore } from '../../netmodel/netfilter/index.js';
import { intBelow, SeededRng } from '../../netmodel/rng.js';
import { newState, tcp, udp } from './builders.js';
import { kubeNatRules } from './kube-shaped.js';

/** A random ruleset mixing indexable runs with rules that break them, duplicates and non-terminating targets. */
function randomRules(rng: SeededRng): string {
  const ips = ['10.96.0.1', '10.96.0.2', '10.96.0.3', '10.96.0.4'];
  const ports = [80, 443, 53];
  const protos = ['tcp', 'udp'];
  const lines = ['*mangle', ':A - [0:0]', ':B - [0:0]', ':C - [0:0]'];
  const targets = ['-j ACCEPT', '-j DROP', '-j A', '-g B', '-j MARK --or-mark 0x1', '-j RETURN', '-j C', ''];
  const pickOf = <T>(xs: readonly T[]) => xs[intBelow(rng, xs.length)]!;
  const ruleFor = (chain: string) => {
    const k = intBelow(rng, 10);
    const p = pickOf(protos);
    const idx = `-m comment --comment r -p ${p} -d ${pickOf(ips)} -m ${p} --dport ${pickOf(ports)}`;
    const t =
      chain === 'PREROUTING' || chain === 'C'
        ? pickOf(targets.filter((x) => !(chain === 'C' && (x === '-j C' || x === '-j A'))))
        : pickOf(['-j ACCEPT', '-j RETURN', '-j MARK --or-mark 0x10', '', '-j DROP']);
    if (k < 7) return `-A ${chain} ${idx} ${t}`.trimEnd();
    if (k === 7) return `-A ${chain} -p ${p} --dport ${pickOf(ports)} ${t}`.trimEnd();
    if (k === 8) return `-A ${chain} -m mark --mark 0x1/0x1 ${t}`.trimEnd();
    return `-A ${chain} -d ${pickOf(ips)} -p ${p} -m ${p} --dport 1:100 ${t}`.trimEnd();
  };
  const n = 5 + intBelow(rng, 40);
  for (let i = 0; i < n; i++) lines.push(ruleFor('PREROUTING'));
  for (let i = 0; i < 12; i++) lines.push(ruleFor(pickOf(['A', 'B'])));
  for (let i = 0; i < 10; i++) lines.push(ruleFor('C'));
  lines.push('COMMIT', '');
  return lines.join('\n');
}

function runBoth(text: string, seed: number, packets: number) {
  const linear = loadRestore(emptyRuleset(4), text);
  const indexed = loadRestore(emptyRuleset(4), text);
  const ctxFor = (index: boolean): EvalContext => ({
    now: 0,
    rng: new SeededRng(seed),
    state: newState(),
    index,
    trace: true,
  });
  const cl = ctxFor(false);
  const ci = ctxFor(true);
  const prng = new SeededRng(seed ^ 0x5a5a);
  for (let i = 0; i < packets; i++) {
    const dst = `10.96.0.${1 + intBelow(prng, 5)}`;
    const port = [80, 443, 53, 22][intBelow(prng, 4)]!;
    const p =
      intBelow(prng, 2) === 0
        ? tcp(`10.0.0.1:${1000 + i}`, `${dst}:${port}`, { mark: intBelow(prng, 2) })
        : udp(`10.0.0.1:1000`, `${dst}:${port}`);
    const a = evaluate(linear, 'mangle', 'PREROUTING', p, cl);
    const b = evaluate(indexed, 'mangle', 'PREROUTING', p, ci);
    expect(b).toEqual(a);
  }
  expect(indexed).toEqual(linear);
  return { linear, indexed };
}

describe('dispatch index', () => {
  it('indexes kube-proxy KUBE-SERVICES and gives the same verdicts as linear evaluation', () => {
    const text = kubeNatRules(200, 3);
    const { linear } = runBoth(text.replace('*nat', '*nat'), 3, 0);
    const ct = compileTable(linear.tables.get('nat')!);
    expect(ct.chains.get('KUBE-SERVICES')!.runAt[0]?.end).toBe(200);
    const a = loadRestore(emptyRuleset(4), text);
    const b = loadRestore(emptyRuleset(4), text);
    for (let i = 0; i < 2000; i++) {
      const p = tcp(`10.1.0.${i & 255}:${1000 + i}`, `10.96.0.${i % 210}:${i % 7 === 0 ? 81 : 80}`);
      const ra = evaluate(a, 'nat', 'PREROUTING', p, {
        now: 0,
        rng: new SeededRng(i),
        state: newState(),
        index: false,
        trace: true,
      });
      const rb = evaluate(b, 'nat', 'PREROUTING', p, {
        now: 0,
        rng: new SeededRng(i),
        state: newState(),
        index: true,
        trace: true,
      });
      expect(rb).toEqual(ra);
    }
    expect(b).toEqual(a);
  });

  it('randomized: identical results and counters over many random rulesets and packets', () => {
    const rng = new SeededRng(2024);
    let loaded = 0;
    let withRuns = 0;
    for (let k = 0; k < 200; k++) {
      const text = randomRules(rng);
      let rs: Ruleset;
      try {
        rs = loadRestore(emptyRuleset(4), text);
      } catch {
        continue; // a random loop through A/B/C; the loader refuses it
      }
      loaded++;
      const chains = compileTable(rs.tables.get('mangle')!).chains;
      if ([...chains.values()].some((c) => c.runAt.some((r) => r !== undefined))) withRuns++;
      runBoth(text, k, 60);
    }
    expect(loaded).toBeGreaterThan(100);
    expect(withRuns).toBeGreaterThan(50);
  });
});
