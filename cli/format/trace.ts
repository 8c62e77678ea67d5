/** `kpath trace` as text: every hook, table and chain, the rules that matched, and what happened. */

import { joinHostPort } from '../../netmodel/addr.js';
import type { Frame } from '../../netmodel/devices/index.js';
import type { Stage, Travel, TravelStep, WalkResult } from '../../netmodel/kernel/index.js';
import { describePacket, type Packet } from '../../netmodel/packet.js';
import { chainMeaning, type OutcomeJson, outcomeJson } from '../../netmodel/trace/index.js';
import { arrivalText, type Hop, type Journey } from '../../proxy/trace-follow.js';
import { type PolicyStage, policyStageJson, policyStageText } from '../../proxy/trace-policy.js';

export interface TraceJourney {
  readonly there: Journey;
  readonly back?: Journey;
}

export interface TraceTextInput {
  readonly nodeName: string;
  readonly packet: Packet;
  readonly entry: string;
  readonly outcomes: readonly {
    readonly json: OutcomeJson;
    readonly walk: WalkResult;
    readonly journey?: TraceJourney;
  }[];
  readonly total: number;
  readonly note?: string;
}

function pct(p: number): string {
  if (p === 1) return '1';
  return p.toFixed(4).replace(/0+$/, '').replace(/\.$/, '');
}

function stageLines(s: Stage): string[] {
  switch (s.kind) {
    case 'table': {
      const head = `    ${s.table.padEnd(8)}`;
      const rules = s.trace.filter((t) => t.kind === 'rule' || t.kind === 'chain');
      const verdict =
        s.verdict.kind === 'REJECT' ? `REJECT (--reject-with ${s.verdict.with})` : s.verdict.kind;
      const lines: string[] = [];
      const onlyBuiltin = rules.length <= 1;
      if (onlyBuiltin) {
        lines.push(`${head} ${verdict}${s.byPolicy ? ' (no rule matched: chain policy)' : ''}`);
      } else {
        lines.push(`${head} ${verdict}${s.byPolicy ? ' (fell through to the chain policy)' : ''}`);
        // The chain whose heading the rules below are printed under. After a jump returns, the next
        // rule belongs to the calling chain again: its heading is repeated so it is not read as a
        // rule of the chain that returned.
        let under = '';
        for (const t of rules) {
          if (t.kind === 'chain') {
            const m = chainMeaning(t.chain);
            lines.push(`               ${t.chain}${m ? `  -- ${m}` : ''}`);
            under = t.chain;
          } else if (t.kind === 'rule') {
            if (t.chain !== under) {
              lines.push(`               ${t.chain}  (continued after ${under || 'the jump'} returned)`);
              under = t.chain;
            }
            lines.push(`                 #${t.num}  ${t.text}`);
          }
        }
      }
      for (const l of s.logs) lines.push(`               LOG: ${l.text}`);
      if (s.after.mark !== s.before.mark)
        lines.push(`               mark 0x${s.before.mark.toString(16)} -> 0x${s.after.mark.toString(16)}`);
      if (s.nat) {
        const n = s.nat;
        const what =
          n.kind === 'DNAT' || n.kind === 'SNAT'
            ? `${n.kind} to ${n.ip?.text ?? ''}${n.port !== undefined ? `:${n.port}` : ''}`
            : n.kind === 'MASQUERADE'
              ? "MASQUERADE (source becomes the outgoing interface's address)"
              : `REDIRECT${n.port !== undefined ? ` to port ${n.port}` : ''}`;
        lines.push(`               => ${what}`);
      }
      return lines;
    }
    case 'conntrack':
      return [
        `    conntrack ${s.state}${s.dir === 'REPLY' ? ' (reply direction)' : ''}${s.created ? ': first packet, a new entry' : ''}${s.note ? ` (${s.note})` : ''}`,
      ];
    case 'nat':
      return [
        `    nat       ${s.manip === 'DST' ? 'destination' : 'source'} rewritten (${s.binding} binding): ${describePacket(s.after)}`,
        ...(s.note ? [`               ${s.note}`] : []),
      ];
    case 'nat-skipped':
      return [`    nat       skipped: ${s.reason}`];
    case 'route':
      return [`  routing     ${s.decision}`];
    case 'confirm':
      return [`  conntrack confirm${s.ok ? '' : ` failed: ${s.note ?? ''}`}`];
    case 'ipvs':
      return [`    ipvs      ${s.action}`, ...s.lines.map((l) => `               ${l}`)];
  }
}

export function renderTraceText(t: TraceTextInput): string {
  const out: string[] = [];
  out.push(`Trace on node ${t.nodeName}: ${describePacket(t.packet)} (${t.entry})`);
  if (t.note) out.push(t.note);
  t.outcomes.forEach(({ json, walk, journey }, i) => {
    out.push('');
    const head =
      t.total > 1
        ? `Outcome ${i + 1} of ${t.total} (probability ${pct(json.probability)})`
        : `Outcome (probability ${pct(json.probability)})`;
    out.push(`${head}: ${json.verdict}; ${json.result.detail}`);
    const after = json.result.packet;
    const facts: string[] = [];
    facts.push(json.dnat ? `DNAT to ${json.dnat}` : 'no DNAT');
    if (json.masquerade)
      facts.push(
        `masqueraded to ${json.snat ?? 'the outgoing address'}: the endpoint sees the node, not the client`,
      );
    else if (json.snat) facts.push(`SNAT to ${json.snat}`);
    else if (json.verdict === 'ACCEPT')
      facts.push(`not masqueraded: the destination sees ${walk.input.src.text}`);
    out.push(`  ${facts.join('; ')}`);
    if (after)
      out.push(
        isIcmpJson(after)
          ? `  packet after this node: ${after.proto} ${after.src} -> ${after.dst}`
          : `  packet after this node: ${after.proto} ${after.src}:${after.sport} -> ${after.dst}:${after.dport}`,
      );
    let hook = '';
    for (const s of walk.stages) {
      const h = 'hook' in s && s.kind !== 'confirm' ? s.hook : '';
      if (h && h !== hook) {
        hook = h;
        out.push(`  ${h}`);
      }
      if (s.kind === 'route') hook = '';
      out.push(...stageLines(s));
    }
    if (json.conntrack) out.push(`  conntrack entry: ${json.conntrack}`);
    if (journey) out.push(...journeyLines(journey));
  });
  return `${out.join('\n')}\n`;
}

/** One line per node a followed packet crosses: what that node did to it. */
function hopLine(h: Hop): string {
  const j = outcomeJson(h.walk, 1, 0);
  const nat: string[] = [];
  const before = h.walk.input;
  const after = j.result.packet;
  if (after && isIcmpJson(after)) {
    // ICMP has no ports: only the addresses (and, in the summary, the echo id) can change.
    if (after.dst !== before.dst.text) nat.push(`destination -> ${after.dst}`);
    if (after.src !== before.src.text) nat.push(`source -> ${after.src}`);
  } else {
    if (after && (after.dst !== before.dst.text || after.dport !== before.dport))
      nat.push(`destination -> ${after.dst}:${after.dport}`);
    if (after && (after.src !== before.src.text || after.sport !== before.sport))
      nat.push(`source -> ${after.src}:${after.sport}`);
  }
  return `    ${h.node}: ${j.verdict}${nat.length ? ` (${nat.join(', ')})` : ''}; ${j.result.detail}`;
}

function isIcmpJson(p: { readonly proto: string }): boolean {
  return p.proto === 'icmp' || p.proto === 'icmpv6';
}

/** One frame as a capture line: MACs, the IP header, L4, and the inner frame of a VXLAN packet. */
export function frameText(f: Frame): string {
  const p = f.packet;
  const ip = `ttl ${p.ttl ?? 64}${p.family === 4 ? ` id ${p.ipId ?? 0}` : ''}${p.df ? ' DF' : ''} len ${p.length}`;
  const l4 =
    p.proto === 'icmp' && p.icmp
      ? `icmp ${p.src.text} > ${p.dst.text} ${icmpName(p.icmp.type, p.icmp.code)}${p.icmp.mtu !== undefined ? ` mtu ${p.icmp.mtu}` : ''}`
      : describePacket(p);
  const frags = f.fragments
    ? ` [${f.fragments.length} fragments: ${f.fragments.map((x) => `${x.length}@${x.offset}${x.mf ? '+' : ''}`).join(' ')}]`
    : '';
  const head = `${f.src} > ${f.dst}, ${l4}, ${ip}${frags}`;
  if (!f.vxlan) return head;
  return `${head}, VXLAN vni ${f.vxlan.vni} { ${frameText(f.vxlan.inner)} }`;
}

function icmpName(type: number, code: number): string {
  if (type === 8) return 'echo request';
  if (type === 0) return 'echo reply';
  if (type === 3 && code === 4) return 'unreachable (fragmentation needed)';
  if (type === 3) return `unreachable code ${code}`;
  if (type === 11) return 'time exceeded';
  return `type ${type} code ${code}`;
}

/** Every device step of a travel: frames on each interface, ARP/FDB/encapsulation/MTU decisions, stack walks. */
export function travelLines(t: Travel, indent = '      '): string[] {
  const out: string[] = [];
  for (const s of t.steps) {
    switch (s.kind) {
      case 'wire':
        out.push(`${indent}${s.ns}/${s.dev} ${s.dir === 'out' ? 'out' : 'in '}  ${frameText(s.frame)}`);
        break;
      case 'l2':
        out.push(`${indent}${s.ns}/${s.dev} ${s.what.padEnd(5)} ${s.text}`);
        break;
      case 'stack': {
        const j = outcomeJson(s.walk, 1, 0);
        out.push(
          `${indent}${s.ns} stack: ${j.verdict}; ${j.result.detail}${s.outer ? ' (the VXLAN packet)' : ''}`,
        );
        break;
      }
    }
  }
  if (t.end.kind === 'stopped' && t.end.icmp) {
    out.push(`${indent}the ICMP error goes back:`);
    out.push(...travelLines(t.end.icmp, `${indent}  `));
  }
  return out;
}

export function journeyLines(j: TraceJourney, devices = true): string[] {
  const out: string[] = ['', '  Following the packet:'];
  const policyLine = (s: PolicyStage) => `    ${s.node}: ${policyStageText(s)}`;
  j.there.hops.forEach((h, i) => {
    out.push(hopLine(h));
    if (i === 0 && j.there.egress) out.push(policyLine(j.there.egress));
  });
  if (j.there.ingress) out.push(policyLine(j.there.ingress));
  out.push(`    => ${arrivalText(j.there.arrival)}`);
  if (devices) {
    out.push('    Device by device:');
    out.push(...travelLines(j.there.travel));
  }
  if (j.back) {
    out.push('  The reply:');
    for (const h of j.back.hops) out.push(hopLine(h));
    out.push(`    => ${arrivalText(j.back.arrival)}`);
    if (devices) {
      out.push('    Device by device:');
      out.push(...travelLines(j.back.travel));
    }
  }
  return out;
}

/** The followed path as JSON (`outcomes[].path`). */
export function journeyJson(j: TraceJourney) {
  const hops = (x: Journey) =>
    x.hops.map((h) => {
      const o = outcomeJson(h.walk, 1, 0);
      return { node: h.node, verdict: o.verdict, dnat: o.dnat, snat: o.snat, result: o.result };
    });
  const arrival = (x: Journey): Record<string, unknown> => {
    const a = x.arrival;
    return {
      kind: a.kind,
      text: arrivalText(a),
      ...(a.kind === 'pod' ? { pod: a.pod } : {}),
      ...(a.kind === 'stopped'
        ? {
            node: a.node,
            ns: a.ns,
            dev: a.dev ?? null,
            reason: a.reason,
            ...(a.icmp ? { icmp: { steps: stepsJson(a.icmp.travel), arrived: arrival(a.icmp) } } : {}),
          }
        : {}),
      ...('packet' in a
        ? { from: joinHostPort(a.packet.src, a.packet.sport), to: joinHostPort(a.packet.dst, a.packet.dport) }
        : {}),
    };
  };
  const policy = {
    ...(j.there.egress ? { egress: policyStageJson(j.there.egress) } : {}),
    ...(j.there.ingress ? { ingress: policyStageJson(j.there.ingress) } : {}),
  };
  return {
    forward: hops(j.there),
    arrived: arrival(j.there),
    ...(Object.keys(policy).length ? { policy } : {}),
    steps: stepsJson(j.there.travel),
    ...(j.back
      ? { reply: hops(j.back), replyArrived: arrival(j.back), replySteps: stepsJson(j.back.travel) }
      : {}),
  };
}

function frameJson(f: Frame): Record<string, unknown> {
  const p = f.packet;
  return {
    src: f.src,
    dst: f.dst,
    ethertype: `0x${f.ethertype.toString(16).padStart(4, '0')}`,
    ip: {
      src: p.src.text,
      dst: p.dst.text,
      ttl: p.ttl ?? 64,
      df: p.df ?? false,
      id: p.ipId ?? 0,
      length: p.length,
    },
    l4:
      p.proto === 'icmp' || p.proto === 'icmpv6'
        ? { proto: p.proto, ...(p.icmp ?? {}) }
        : { proto: p.proto, sport: p.sport, dport: p.dport, ...(p.tcp ? { flags: p.tcp } : {}) },
    ...(f.fragments ? { fragments: f.fragments } : {}),
    ...(f.vxlan ? { vxlan: { vni: f.vxlan.vni, inner: frameJson(f.vxlan.inner) } } : {}),
  };
}

/** The device steps as JSON (`path.steps`): frames per interface, link-layer decisions, stack verdicts. */
export function stepsJson(t: Travel): Record<string, unknown>[] {
  return t.steps.map((s: TravelStep) => {
    switch (s.kind) {
      case 'wire':
        return { kind: 'frame', interface: `${s.ns}/${s.dev}`, dir: s.dir, frame: frameJson(s.frame) };
      case 'l2':
        return { kind: s.what, interface: `${s.ns}/${s.dev}`, text: s.text };
      case 'stack': {
        const o = outcomeJson(s.walk, 1, 0);
        return { kind: 'stack', ns: s.ns, outer: s.outer, verdict: o.verdict, result: o.result };
      }
      default:
        return {};
    }
  });
}
