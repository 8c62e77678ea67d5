/**
 * One scenario on both sides and the comparison: load the rules into the real router and into the
 * emulated one, fire the connections, read what happened (who answered, what the server saw,
 * `conntrack -L`, `iptables-save -c`) and diff it against the emulator's prediction.
 */
import { formatConntrackEntry } from '../../netmodel/conntrack/index.js';
import { type Rng, SeededRng } from '../../netmodel/rng.js';
import { type Answer, emulateCase, makeRouter, type Seen } from './emulate.js';
import type { Case, Scenario } from './generate.js';
import { accountRejectReset } from './known-differences.js';
import type { RealTopology } from './topology.js';

/** How long a connection may take before it counts as timed out (DROP), ms. */
export const CASE_TIMEOUT_MS = 300;

export interface SideResult {
  /** iptables-restore's error, when it refused the rules. */
  readonly loadError?: string;
  readonly answers: ReadonlyMap<string, Answer>;
  /** Normalised `conntrack -L` lines, sorted. */
  readonly conntrack: readonly string[];
  /** `table/chain/#n` or `table/chain/policy` -> "packets:bytes". */
  readonly counters: ReadonlyMap<string, string>;
  /** Milliseconds after the scenario started at which each case was fired (sequential runs). */
  readonly firedAt: ReadonlyMap<string, number>;
}

export interface Mismatch {
  readonly scenario: Scenario;
  readonly real: SideResult;
  readonly emulated: SideResult;
  readonly diffs: readonly string[];
}

// ---- parsing what the real tools print -------------------------------------------------------

/**
 * One `conntrack -L` line reduced to what is deterministic: protocol, both tuples, UNREPLIED,
 * ASSURED and the mark. (Timeouts and the TCP state depend on when the listing is taken.)
 */
export function normaliseConntrackLine(line: string): string | undefined {
  const t = line.trim().split(/\s+/);
  if (t.length < 4 || !/^\d+$/.test(t[1] ?? '')) return undefined;
  const proto = t[0]!;
  const tuples: string[][] = [[], []];
  let which = -1;
  let unreplied = false;
  let assured = false;
  let mark = '0';
  for (const tok of t.slice(2)) {
    if (tok.startsWith('src=')) which++;
    const eq = tok.indexOf('=');
    if (tok === '[UNREPLIED]') unreplied = true;
    else if (tok === '[ASSURED]') assured = true;
    else if (tok.startsWith('mark=')) mark = tok.slice(5);
    else if (eq > 0 && which >= 0 && which < 2 && ['src', 'dst', 'sport', 'dport'].includes(tok.slice(0, eq)))
      tuples[which]!.push(tok);
  }
  return `${proto} ${tuples[0]!.join(' ')} | ${tuples[1]!.join(' ')}${unreplied ? ' [UNREPLIED]' : ''}${assured ? ' [ASSURED]' : ''} mark=${mark}`;
}

export function parseConntrack(text: string): string[] {
  return text
    .split('\n')
    .map(normaliseConntrackLine)
    .filter((x): x is string => x !== undefined)
    .sort();
}

/** iptables-save -c text -> counters by position. */
export function parseCounters(text: string): Map<string, string> {
  const out = new Map<string, string>();
  let table = '';
  const seen = new Map<string, number>();
  for (const line of text.split('\n')) {
    if (line.startsWith('*')) table = line.slice(1).trim();
    const pol = /^:(\S+) (ACCEPT|DROP) \[(\d+):(\d+)\]/.exec(line);
    if (pol) out.set(`${table}/${pol[1]}/policy`, `${pol[3]}:${pol[4]}`);
    const r = /^\[(\d+):(\d+)\] -A (\S+)/.exec(line);
    if (r) {
      const k = `${table}/${r[3]}`;
      const n = (seen.get(k) ?? 0) + 1;
      seen.set(k, n);
      out.set(`${k}/#${n}`, `${r[1]}:${r[2]}`);
    }
  }
  return out;
}

/**
 * Which counters are exact on both sides. nat chains see only the first packet of a connection, so
 * all of theirs are. filter and mangle see every packet of a flow (and how many a real TCP sends,
 * with its delayed ACKs and retransmissions, is not the packet filter's business), so theirs count
 * only when the scenario is guarded: the guard rule itself and the chains without rules under test
 * (mangle's other hooks, filter OUTPUT, mangle PREROUTING's policy that the guard RETURNs to) are
 * left out.
 */
export function comparableCounter(key: string, guarded: boolean): boolean {
  const [table, chain, which] = key.split('/');
  if (table === 'nat') return true;
  if (!guarded) return false;
  if (table === 'filter') {
    if (chain === 'OUTPUT') return false;
    if ((chain === 'INPUT' || chain === 'FORWARD') && which === '#1') return false;
    return true;
  }
  if (table === 'mangle') {
    if (chain === 'PREROUTING') return which !== '#1' && which !== 'policy';
    return chain !== 'INPUT' && chain !== 'FORWARD' && chain !== 'OUTPUT' && chain !== 'POSTROUTING';
  }
  return false;
}

// ---- the real side -------------------------------------------------------------------------------

const EMPTY_RULES = [
  '*mangle',
  ':PREROUTING ACCEPT [0:0]',
  'COMMIT',
  '*nat',
  ':PREROUTING ACCEPT [0:0]',
  'COMMIT',
  '*filter',
  ':FORWARD ACCEPT [0:0]',
  'COMMIT',
  '',
].join('\n');

let resetSeq = 0;

export async function runReal(topo: RealTopology, s: Scenario): Promise<SideResult> {
  const h = topo.helpers;
  if (!h) throw new Error('kernel-diff: the topology is not up');
  // An empty load first, so recent lists (and nth counters) of the last scenario are gone.
  if (s.sequential) await topo.loadRules(EMPTY_RULES);
  await topo.onlyClientPorts(s.cases.filter((c) => c.proto === 'tcp').map((c) => c.sport));
  const loadError = await topo.loadRules(s.rules);
  await topo.conntrackFlush();
  const answers = new Map<string, Answer>();
  const firedAt = new Map<string, number>();
  if (loadError) return { loadError, answers, conntrack: [], counters: new Map(), firedAt };

  const seen = new Map<string, Seen>();
  const ids = new Set(s.cases.map((c) => c.id));
  const onSeen = (m: Record<string, unknown>) => {
    if (m.ev === 'seen' && typeof m.id === 'string' && ids.has(m.id))
      seen.set(m.id, { name: m.name as Seen['name'], local: String(m.local), remote: String(m.remote) });
  };
  h.server.onMessage(onSeen);
  h.router.onMessage(onSeen);

  const fire = (c: Case) => {
    const done = h.client.waitFor((m) => m.ev === 'result' && m.id === c.id, 10_000, `result of ${c.id}`);
    h.client.send({
      cmd: c.proto,
      id: c.id,
      src: c.src,
      sport: c.sport,
      dst: c.dst,
      dport: c.dport,
      timeout: CASE_TIMEOUT_MS,
    });
    return done;
  };
  const t0 = performance.now();
  const results = new Map<string, Record<string, unknown>>();
  if (s.sequential) {
    for (const c of s.cases) {
      if (c.pauseMs) await new Promise((r) => setTimeout(r, c.pauseMs));
      firedAt.set(c.id, performance.now() - t0);
      results.set(c.id, await fire(c));
    }
  } else {
    const all = await Promise.all(s.cases.map((c) => fire(c)));
    s.cases.forEach((c, i) => {
      results.set(c.id, all[i]!);
    });
  }
  // The server reports a token before it answers, but on another pipe: wait for the reports of
  // answered connections, then a moment for stragglers.
  const deadline = performance.now() + 2000;
  while (
    s.cases.some((c) => results.get(c.id)?.result === 'answered' && !seen.has(c.id)) &&
    performance.now() < deadline
  )
    await new Promise((r) => setTimeout(r, 5));
  await new Promise((r) => setTimeout(r, 20));

  const [ct, save] = await Promise.all([topo.conntrackList(), topo.saveCounters()]);
  for (const c of s.cases) {
    const m = results.get(c.id)!;
    const sn = seen.get(c.id);
    answers.set(c.id, {
      result: m.result as Answer['result'],
      ...(typeof m.code === 'string' ? { code: m.code } : {}),
      ...(typeof m.reply === 'string' ? { reply: m.reply } : {}),
      ...(sn ? { seen: sn } : {}),
    });
  }
  // Tear the connections down (RST both ways) before the next scenario loads its rules.
  const seq = ++resetSeq;
  const acks = [h.client, h.server, h.router].map((x) =>
    x.waitFor((m) => m.ev === 'reset' && m.seq === seq, 5000, 'reset ack'),
  );
  for (const x of [h.client, h.server, h.router]) x.send({ cmd: 'reset', seq });
  await Promise.all(acks);
  await new Promise((r) => setTimeout(r, 15));
  return { answers, conntrack: parseConntrack(ct), counters: parseCounters(save), firedAt };
}

// ---- the emulated side ---------------------------------------------------------------------------

export function runEmulated(
  s: Scenario,
  firedAt: ReadonlyMap<string, number>,
  rng: Rng = new SeededRng(s.index + 1),
): SideResult {
  const node = makeRouter();
  const answers = new Map<string, Answer>();
  try {
    node.restore(s.rules);
  } catch (e) {
    return { loadError: (e as Error).message, answers, conntrack: [], counters: new Map(), firedAt };
  }
  const base = 1_000_000;
  const env = { rng };
  s.cases.forEach((c, i) => {
    const now = base + (firedAt.get(c.id) ?? i);
    const { answer, first } = emulateCase(node, c, now, env);
    answers.set(c.id, answer);
    accountRejectReset(node, first, now);
  });
  const now = base + 10_000;
  const ct = node.conntrack
    .entries(now)
    .map((e) => formatLine(e, now))
    .sort();
  return { answers, conntrack: ct, counters: parseCounters(node.save({ counters: true })), firedAt };
}

function formatLine(e: Parameters<typeof formatConntrackEntry>[0], now: number): string {
  return normaliseConntrackLine(formatConntrackEntry(e, now)) ?? '?';
}

// ---- comparison ------------------------------------------------------------------------------------

function answerText(a: Answer | undefined): string {
  if (!a) return '(none)';
  const seen = a.seen
    ? ` seen-by=${a.seen.name} local=${a.seen.local} remote=${a.seen.remote}`
    : ' seen-by=nobody';
  return `${a.result}${a.code ? ` ${a.code}` : ''}${seen}`;
}

export function compare(s: Scenario, real: SideResult, emu: SideResult): string[] {
  const diffs: string[] = [];
  if (!!real.loadError !== !!emu.loadError) {
    diffs.push(`load: real ${real.loadError ?? 'ok'} / emulator ${emu.loadError ?? 'ok'}`);
    return diffs;
  }
  if (real.loadError) return diffs;
  for (const c of s.cases) {
    const ra = real.answers.get(c.id);
    const ea = emu.answers.get(c.id);
    const r = answerText(ra);
    // 'soft-icmp-error-after-connect': the one outcome the client's own TCP timers decide.
    if (
      ea?.softError &&
      (ra?.result === 'error' || ra?.result === 'refused') &&
      ra.code === ea.softError &&
      !ra.seen &&
      !ea.seen
    )
      continue;
    const e = answerText(ea);
    if (r !== e) diffs.push(`${c.id}: real ${r} / emulator ${e}`);
  }
  const rc = real.conntrack.join('\n');
  const ec = emu.conntrack.join('\n');
  if (rc !== ec) {
    const onlyReal = real.conntrack.filter((x) => !emu.conntrack.includes(x));
    const onlyEmu = emu.conntrack.filter((x) => !real.conntrack.includes(x));
    diffs.push(
      `conntrack differs:\n    only real:     ${onlyReal.join('\n                   ') || '-'}\n    only emulator: ${onlyEmu.join('\n                   ') || '-'}`,
    );
  }
  const keys = new Set([...real.counters.keys(), ...emu.counters.keys()]);
  for (const k of [...keys].sort()) {
    if (!comparableCounter(k, s.guarded)) continue;
    const rv = real.counters.get(k);
    const ev = emu.counters.get(k);
    if (rv !== ev) diffs.push(`counter ${k}: real [${rv ?? 'absent'}] / emulator [${ev ?? 'absent'}]`);
  }
  return diffs;
}

export function formatMismatch(m: Mismatch, seed: number): string {
  const s = m.scenario;
  const lines = [
    `kernel-diff mismatch: seed ${seed}, scenario ${s.index} (${s.guarded ? 'guarded' : 'unguarded'}, ${s.sequential ? 'sequential' : 'concurrent'})`,
    'ruleset (iptables-restore input):',
    ...s.rules
      .trimEnd()
      .split('\n')
      .map((l) => `  ${l}`),
    'connections:',
    ...s.cases.map(
      (c) =>
        `  ${c.id}: ${c.proto} ${c.src}:${c.sport} -> ${c.dst}:${c.dport}${m.real.firedAt.has(c.id) ? ` at +${Math.round(m.real.firedAt.get(c.id)!)}ms` : ''}\n      real:     ${answerText(m.real.answers.get(c.id))}\n      emulator: ${answerText(m.emulated.answers.get(c.id))}`,
    ),
    'differences:',
    ...m.diffs.map((d) => `  ${d}`),
    'real conntrack -L (normalised):',
    ...m.real.conntrack.map((l) => `  ${l}`),
    'emulated conntrack -L (normalised):',
    ...m.emulated.conntrack.map((l) => `  ${l}`),
  ];
  return lines.join('\n');
}
