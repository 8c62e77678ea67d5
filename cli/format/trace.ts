/** `kpath trace` as text: every hook, table and chain, the rules that matched, and what happened. */

import type { Stage, WalkResult } from '../../netmodel/kernel/index.js';
import { describePacket, type Packet } from '../../netmodel/packet.js';
import { chainMeaning, type OutcomeJson } from '../../netmodel/trace/index.js';

export interface TraceTextInput {
  readonly nodeName: string;
  readonly packet: Packet;
  readonly entry: string;
  readonly outcomes: readonly { readonly json: OutcomeJson; readonly walk: WalkResult }[];
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
        for (const t of rules) {
          if (t.kind === 'chain') {
            const m = chainMeaning(t.chain);
            lines.push(`               ${t.chain}${m ? `  -- ${m}` : ''}`);
          } else if (t.kind === 'rule') {
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
      ];
    case 'nat-skipped':
      return [`    nat       skipped: ${s.reason}`];
    case 'route':
      return [`  routing     ${s.decision}`];
    case 'confirm':
      return [`  conntrack confirm${s.ok ? '' : ` failed: ${s.note ?? ''}`}`];
  }
}

export function renderTraceText(t: TraceTextInput): string {
  const out: string[] = [];
  out.push(`Trace on node ${t.nodeName}: ${describePacket(t.packet)} (${t.entry})`);
  if (t.note) out.push(t.note);
  t.outcomes.forEach(({ json, walk }, i) => {
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
        `  packet after this node: ${after.proto} ${after.src}:${after.sport} -> ${after.dst}:${after.dport}`,
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
  });
  return `${out.join('\n')}\n`;
}
