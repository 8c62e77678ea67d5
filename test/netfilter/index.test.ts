import { describe, expect, it } from 'vitest';
import type { EvalContext, Ruleset } from '../../netmodel/netfilter/index.js';
import { compileTable, emptyRuleset, evaluate, loadRestore } from '../../netmodel/netfilter/index.js';
import { intBelow, SeededRng } from '../../netmodel/rng.js';
import { newState, tcp, udp } from './builders.js';
import { kubeNatRules, kubeProxyNat } from './kube-shaped.js';

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

/**
 * A random nat ruleset exercising every op and target code of the flat program (program.ts) and the
 * generic fallbacks: prefixes of every length with and without !, -p with !, port ranges with !,
 * marks, statistic random (also probability 1, which is generic) and nth, recent, nfacct, -i, tcp
 * flags, multiport; MARK, CONNMARK, LOG, RETURN, jump, goto, no target, DNAT/SNAT/MASQUERADE/REDIRECT
 * with fixed values (precomputed) and with ranges (Rng draws); and indexable runs.
 */
function randomNatRules(rng: SeededRng): string {
  const pickOf = <T>(xs: readonly T[]) => xs[intBelow(rng, xs.length)]!;
  const ips = ['10.96.0.1', '10.96.0.2', '10.96.0.3'];
  const maybeNot = () => (intBelow(rng, 3) === 0 ? '! ' : '');
  const matchPool = (p: string) => [
    `${maybeNot()}-s 10.${pickOf(['0', '1', '244'])}.0.0/${pickOf([8, 16, 24, 32, 1])}`,
    `${maybeNot()}-d ${pickOf(ips)}/${pickOf([32, 30, 24])}`,
    `${maybeNot()}-p ${p}`,
    `-p ${p} -m ${p} ${maybeNot()}--dport ${pickOf(['80', '443', '1:100', '50:60000'])}`,
    `-p ${p} -m ${p} ${maybeNot()}--sport ${pickOf(['1000', '1000:1010', '2000:65535'])}`,
    `-m mark ${maybeNot()}--mark ${pickOf(['0x1', '0x1/0x1', '0x4000/0x4000', '0x0/0xffffffff'])}`,
    `-m statistic --mode random --probability ${pickOf(['0.25', '0.5', '0.9', '1.0', '0.0'])}`,
    `-m statistic ${maybeNot()}--mode random --probability 0.33333333333`,
    `-m statistic --mode nth --every ${pickOf([2, 3])} --packet ${pickOf([0, 1])}`,
    `-m recent --name R${pickOf([1, 2])} ${pickOf(['--set', '--rcheck --seconds 5', '--update --seconds 5 --hitcount 2', '--remove'])}`,
    `-m nfacct --nfacct-name N${pickOf([1, 2])}`,
    `${maybeNot()}-i ${pickOf(['eth0', 'eth+', 'cni0'])}`,
    '-p tcp -m tcp --tcp-flags SYN,ACK SYN',
    `-p ${p} -m multiport --dports 80,443,53`,
    '-m comment --comment "just a comment"',
  ];
  const natTargets = [
    '-j DNAT --to-destination 10.244.0.9:8080',
    '-j DNAT --to-destination 10.244.0.1-10.244.0.5:8080-8090',
    '-j DNAT --to-destination 10.244.0.7',
    '-j SNAT --to-source 10.0.0.1',
    '-j SNAT --to-source 10.0.0.1-10.0.0.3',
    '-j MASQUERADE',
    '-j MASQUERADE --to-ports 1000-2000',
    '-j REDIRECT --to-ports 8080',
    '-j REDIRECT --to-ports 8000-8010',
  ];
  const flow = [
    '-j MARK --or-mark 0x1',
    '-j MARK --set-xmark 0x4000/0x4000',
    '-j CONNMARK --set-mark 0x7',
    '-j LOG --log-prefix "x: "',
    '-j RETURN',
    '',
  ];
  const jumps = (chain: string) =>
    chain === 'PREROUTING' ? ['-j A', '-g B', '-j C'] : chain === 'A' || chain === 'B' ? ['-j C'] : [];
  const ruleFor = (chain: string) => {
    const p = pickOf(['tcp', 'udp']);
    const k = intBelow(rng, 10);
    const target = pickOf([...natTargets, ...flow, ...flow, ...jumps(chain), ...jumps(chain), '-j ACCEPT']);
    if (k < 4)
      return `-A ${chain} -d ${pickOf(ips)}/32 -p ${p} -m comment --comment r -m ${p} --dport ${pickOf([80, 443, 53])} ${target}`;
    // NAT targets with ports need -p tcp|udp (and only one -p per rule).
    const needsProto = /:\d|--to-ports/.test(target);
    const pool = matchPool(p).filter((m) => !needsProto || !/-p |-i /.test(m));
    const n = 1 + intBelow(rng, 3);
    const ms: string[] = needsProto ? [`-p ${p}`] : [];
    let proto = needsProto;
    for (let i = 0; i < n; i++) {
      const m = pickOf(pool);
      const hasProto = /-p /.test(m);
      if (ms.includes(m) || (hasProto && proto)) continue; // one -p per rule, no repeated option
      proto ||= hasProto;
      ms.push(m);
    }
    return `-A ${chain} ${ms.join(' ')} ${target}`.trimEnd();
  };
  const lines = ['*nat', ':A - [0:0]', ':B - [0:0]', ':C - [0:0]'];
  const n = 5 + intBelow(rng, 30);
  for (let i = 0; i < n; i++) lines.push(ruleFor('PREROUTING'));
  for (const c of ['A', 'B', 'C']) for (let i = 0; i < 3 + intBelow(rng, 8); i++) lines.push(ruleFor(c));
  lines.push('COMMIT', '');
  return lines.join('\n');
}

/** Runs `packets` random packets through fast (indexed) and reference (linear) evaluation; everything must agree. */
function runNatBoth(text: string, seed: number, packets: number, trace: boolean): void {
  const linear = loadRestore(emptyRuleset(4), text);
  const indexed = loadRestore(emptyRuleset(4), text);
  const sl = newState();
  const si = newState();
  const rl = new SeededRng(seed);
  const ri = new SeededRng(seed);
  const prng = new SeededRng(seed ^ 0x77);
  for (let i = 0; i < packets; i++) {
    const dst = `10.96.0.${1 + intBelow(prng, 4)}`;
    const port = [80, 443, 53, 22][intBelow(prng, 4)]!;
    const src = `10.${['0', '1', '244'][intBelow(prng, 3)]}.0.${1 + intBelow(prng, 3)}`;
    const sport = [1000, 1005, 2000, 40000][intBelow(prng, 4)]!;
    const p =
      intBelow(prng, 2) === 0
        ? tcp(`${src}:${sport}`, `${dst}:${port}`, {
            mark: [0, 1, 0x4000][intBelow(prng, 3)]!,
            ...(intBelow(prng, 2) ? { iif: ['eth0', 'eth1', 'cni0'][intBelow(prng, 3)]! } : {}),
          })
        : udp(`${src}:${sport}`, `${dst}:${port}`);
    const ct = intBelow(prng, 3) === 0 ? undefined : { state: 'NEW' as const, mark: intBelow(prng, 2) };
    const now = i * 1000;
    const ctxFor = (index: boolean, rng: SeededRng, state: ReturnType<typeof newState>): EvalContext => ({
      now,
      rng,
      state,
      index,
      trace,
      ...(ct ? { ct } : {}),
    });
    const a = evaluate(linear, 'nat', 'PREROUTING', p, ctxFor(false, rl, sl));
    const b = evaluate(indexed, 'nat', 'PREROUTING', p, ctxFor(true, ri, si));
    expect(b).toEqual(a);
    expect(Object.keys(b)).toEqual(Object.keys(a));
  }
  // Counters, Rng position, recent lists and nfacct objects are the same afterwards.
  expect(indexed).toEqual(linear);
  expect(ri.uint32()).toBe(rl.uint32());
  for (const name of ['R1', 'R2']) expect(si.recent.list(name).list()).toEqual(sl.recent.list(name).list());
  for (const name of ['N1', 'N2']) expect(si.nfacct.get(name)).toEqual(sl.nfacct.get(name));
}

describe('fast evaluation (flat program + index) equals the reference interpreter', () => {
  it('randomized nat rulesets covering every op, target code, NAT form and stateful match', () => {
    const rng = new SeededRng(77);
    let loaded = 0;
    for (let k = 0; k < 200; k++) {
      const text = randomNatRules(rng);
      try {
        loadRestore(emptyRuleset(4), text);
      } catch (e) {
        if (process.env.DEBUG_RANDOM_RULES) console.log(String(e));
        continue; // an invalid combination; the loader refuses it
      }
      loaded++;
      runNatBoth(text, k, 60, k % 2 === 0);
    }
    expect(loaded).toBeGreaterThan(150);
  });

  it('a kube-proxy table (2-5 endpoints, hashed chain names) gives the same DNATs, traces and counters', () => {
    const { text, services } = kubeProxyNat({ services: 300, minEndpoints: 2, maxEndpoints: 5, seed: 3 });
    const linear = loadRestore(emptyRuleset(4), text);
    const indexed = loadRestore(emptyRuleset(4), text);
    const state = [newState(), newState()] as const;
    const rngs = [new SeededRng(5), new SeededRng(5)] as const;
    const prng = new SeededRng(9);
    let dnat = 0;
    for (let i = 0; i < 3000; i++) {
      const s = services[intBelow(prng, services.length)]!;
      const src =
        intBelow(prng, 4) === 0 ? s.endpoints[0]! : `10.${intBelow(prng, 2) ? 0 : 244}.1.${1 + (i % 250)}`;
      const port = intBelow(prng, 20) === 0 ? s.port + 1 : s.port;
      const p =
        s.proto === 'tcp'
          ? tcp(`${src}:${1000 + i}`, `${s.ip}:${port}`)
          : udp(`${src}:${1000 + i}`, `${s.ip}:${port}`);
      const ctx = (j: 0 | 1): EvalContext => ({
        now: 0,
        rng: rngs[j],
        state: state[j],
        index: j === 1,
        trace: i % 3 === 0,
      });
      const a = evaluate(linear, 'nat', 'PREROUTING', p, ctx(0));
      const b = evaluate(indexed, 'nat', 'PREROUTING', p, ctx(1));
      expect(b).toEqual(a);
      if (a.nat?.kind === 'DNAT') dnat++;
    }
    expect(dnat).toBeGreaterThan(2500);
    expect(indexed).toEqual(linear);
    expect(rngs[1].uint32()).toBe(rngs[0].uint32());
  });
});
