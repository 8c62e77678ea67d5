/** Rendering a message in dig's layout, for `kpath dns query NAME [TYPE]`. */
import type { Message, RData, ResourceRecord } from './message.js';
import { fqdn, opcodeOf, rcodeOf } from './message.js';
import { className, Flag, opcodeName, RRType, rcodeName, typeName } from './wire-constants.js';

function quote(s: string): string {
  return `"${s.replace(/["\\]/g, (c) => `\\${c}`)}"`;
}

/** RDATA in zone-file presentation form. */
export function rdataText(d: RData): string {
  switch (d.kind) {
    case 'address':
      return d.ip;
    case 'name':
      return fqdn(d.target);
    case 'soa':
      return `${fqdn(d.mname)} ${fqdn(d.rname)} ${d.serial} ${d.refresh} ${d.retry} ${d.expire} ${d.minimum}`;
    case 'srv':
      return `${d.priority} ${d.weight} ${d.port} ${fqdn(d.target)}`;
    case 'mx':
      return `${d.preference} ${fqdn(d.exchange)}`;
    case 'txt':
      return d.texts.map(quote).join(' ');
    case 'raw':
      return `\\# ${d.bytes.length}${d.bytes.length ? ' ' : ''}${Array.from(d.bytes, (b) => b.toString(16).padStart(2, '0')).join('')}`;
  }
}

/** One RR as dig prints it: `name. TTL IN TYPE rdata`, tab separated. */
export function rrText(rr: ResourceRecord): string {
  return `${fqdn(rr.name)}\t${rr.ttl}\t${className(rr.class)}\t${typeName(rr.type)}\t${rdataText(rr.data)}`;
}

const FLAG_ORDER: readonly [number, string][] = [
  [Flag.QR, 'qr'],
  [Flag.AA, 'aa'],
  [Flag.TC, 'tc'],
  [Flag.RD, 'rd'],
  [Flag.RA, 'ra'],
  [Flag.AD, 'ad'],
  [Flag.CD, 'cd'],
];

/** The whole reply in dig's layout (header, OPT pseudosection, QUESTION/ANSWER/AUTHORITY/ADDITIONAL). */
export function formatDig(m: Message, opts: { command?: string } = {}): string {
  const lines: string[] = [];
  if (opts.command) lines.push(`; <<>> kpath <<>> ${opts.command}`, ';; Got answer:');
  lines.push(
    `;; ->>HEADER<<- opcode: ${opcodeName(opcodeOf(m.flags))}, status: ${rcodeName(rcodeOf(m))}, id: ${m.id}`,
  );
  const flags = FLAG_ORDER.filter(([f]) => (m.flags & f) !== 0).map(([, n]) => n);
  const opt = m.additional.find((r) => r.type === RRType.OPT);
  const additional = m.additional.filter((r) => r.type !== RRType.OPT);
  lines.push(
    `;; flags: ${flags.join(' ')}; QUERY: ${m.questions.length}, ANSWER: ${m.answers.length}, ` +
      `AUTHORITY: ${m.authority.length}, ADDITIONAL: ${m.additional.length}`,
  );
  lines.push('');
  if (opt) {
    const version = (opt.ttl >>> 16) & 0xff;
    const doBit = (opt.ttl & 0x8000) !== 0;
    lines.push(
      ';; OPT PSEUDOSECTION:',
      `; EDNS: version: ${version}, flags:${doBit ? ' do' : ''}; udp: ${opt.class}`,
    );
  }
  lines.push(';; QUESTION SECTION:');
  for (const q of m.questions) lines.push(`;${fqdn(q.name)}\t\t${className(q.class)}\t${typeName(q.type)}`);
  lines.push('');
  const sections: [string, readonly ResourceRecord[]][] = [
    ['ANSWER', m.answers],
    ['AUTHORITY', m.authority],
    ['ADDITIONAL', additional],
  ];
  for (const [title, rrs] of sections) {
    if (rrs.length === 0) continue;
    lines.push(`;; ${title} SECTION:`);
    for (const rr of rrs) lines.push(rrText(rr));
    lines.push('');
  }
  return `${lines.join('\n')}\n`;
}
