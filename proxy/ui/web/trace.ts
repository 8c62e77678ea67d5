/**
 * The trace view: pick a source and a destination (or open /ui/trace?from=...&to=...), see the packet
 * hop by hop: a strip of the nodes it crosses, then each node's hooks, tables, chains and the rules
 * that matched (iptables-save text), the DNAT and masquerade decisions, where it arrives, and the reply.
 */
import { type Child, getJSON, h, replace } from './dom.js';
import type { ArrivalJson, StageJson, Topology, Trace, WalkJson } from './types.js';

function sources(t: Topology): string[] {
  return [
    ...t.nodes.flatMap((n) => n.pods.filter((p) => p.ip).map((p) => `pod/${p.namespace}/${p.name}`)),
    ...t.nodes.map((n) => `node/${n.name}`),
    '192.0.2.7',
  ];
}

function destinations(t: Topology): string[] {
  const out: string[] = [];
  for (const s of t.services) {
    if (!s.clusterIPs.length) continue;
    for (const p of s.ports) out.push(`svc/${s.namespace}/${s.name}:${p.name || p.port}`);
  }
  for (const s of t.services)
    for (const p of s.ports)
      if (p.nodePort) for (const n of t.nodes) out.push(`node/${n.name}:${p.nodePort}`);
  for (const n of t.nodes) for (const p of n.pods) if (p.ip) out.push(`pod/${p.namespace}/${p.name}:${8080}`);
  return out;
}

/** The matched rules in the order they were walked, with a chain header wherever the chain changes. */
function ruleLines(s: StageJson): Child[] {
  const meaning = new Map((s.chains ?? []).map((c) => [c.chain, c.meaning]));
  const out: Child[] = [];
  let chain = '';
  for (const r of s.rules ?? []) {
    if (r.chain !== chain) {
      chain = r.chain;
      const m = meaning.get(chain);
      out.push(
        h(
          'div',
          { class: 'chain mono', 'data-chain': chain },
          chain,
          m ? h('span', { class: 'muted' }, ` — ${m}`) : null,
        ),
      );
    }
    out.push(h('pre', { class: 'rule' }, r.rule));
  }
  return out;
}

function stageView(s: StageJson): Child {
  switch (s.kind) {
    case 'table': {
      const rules = s.rules ?? [];
      return h(
        'div',
        { class: 'stage table', 'data-hook': s.hook, 'data-table': s.table },
        h(
          'span',
          { class: 'mono' },
          `${s.hook} ${s.table}: ${s.verdict}${s.byPolicy ? ' (chain policy)' : ''}`,
        ),
        rules.length > 1 || (rules.length === 1 && !s.byPolicy) ? ruleLines(s) : null,
        s.nat ? h('div', { class: 'decision nat' }, `⇒ ${s.nat}`) : null,
      );
    }
    case 'conntrack':
      return h(
        'div',
        { class: 'stage mono' },
        `conntrack ${s.state}${s.dir === 'REPLY' ? ' (reply direction)' : ''}${s.created ? ': new entry' : ''}${s.note ? ` (${s.note})` : ''}`,
      );
    case 'nat':
      return h(
        'div',
        { class: 'stage mono decision' },
        `${s.manip === 'DST' ? 'destination' : 'source'} rewritten (${s.binding}): ${s.after ? `${s.after.src}:${s.after.sport} → ${s.after.dst}:${s.after.dport}` : ''}`,
      );
    case 'nat-skipped':
      return h('div', { class: 'stage mono muted' }, `nat skipped: ${s.reason}`);
    case 'route':
      return h(
        'div',
        { class: 'stage mono' },
        `routing: ${s.decision}${s.dev ? ` out of ${s.dev}` : ''}${s.nextHop ? ` via ${s.nextHop}` : ''}`,
      );
    case 'confirm':
      return h(
        'div',
        { class: 'stage mono muted' },
        `conntrack confirm${s.ok ? '' : ' failed'}${s.note ? ` (${s.note})` : ''}`,
      );
    case 'ipvs':
      return h(
        'div',
        { class: 'stage mono' },
        `IPVS ${s.action}${s.destination ? ` → ${s.destination}` : ''}`,
        (s.why ?? []).map((l) => h('pre', { class: 'rule' }, l)),
      );
    default:
      return h('div', { class: 'stage mono' }, s.kind);
  }
}

function hopView(node: string, w: WalkJson, dir: string): HTMLElement {
  return h(
    'section',
    { class: 'hop', 'data-hop-node': node, 'data-dir': dir },
    h(
      'h4',
      null,
      `${node}: ${w.verdict}`,
      w.dnat ? ` · DNAT to ${w.dnat}` : '',
      w.snat ? ` · SNAT to ${w.snat}` : '',
      w.masquerade ? ' · masqueraded' : '',
    ),
    w.hops.map(stageView),
    h('div', { class: 'muted' }, w.result.detail),
  );
}

function strip(from: string, hops: { node: string }[], to: ArrivalJson | null): HTMLElement {
  const items: Child[] = [h('code', null, from)];
  for (const x of hops) items.push(' → ', h('strong', null, x.node));
  if (to)
    items.push(
      ' → ',
      h('code', null, to.pod ? `pod ${to.pod}` : to.kind === 'stopped' ? `stopped on ${to.node}` : to.kind),
    );
  return h('div', { class: 'arrow' }, items);
}

function traceView(t: Trace, from: string): HTMLElement {
  return h(
    'div',
    { id: 'trace-result' },
    h('p', null, h('code', null, t.packet), ` on ${t.node}: ${t.entry}`),
    t.note ? h('p', { class: 'muted' }, t.note) : null,
    t.outcomes.map((o, i) =>
      h(
        'section',
        { class: 'outcome', 'data-outcome': i },
        h(
          'h2',
          null,
          `Outcome ${t.outcomes.length > 1 ? `${i + 1} ` : ''}(probability ${Number(o.probability.toFixed(4))}): ${o.verdict}`,
        ),
        h(
          'p',
          { class: 'decision', id: i === 0 ? 'decisions' : undefined },
          o.dnat ? `DNAT to ${o.dnat}` : 'no DNAT',
          '; ',
          o.masquerade
            ? 'masqueraded (the destination sees the node address)'
            : o.snat
              ? `SNAT to ${o.snat}`
              : 'not masqueraded',
        ),
        strip(from, o.forward, o.arrived),
        o.policy.egress ? h('p', null, String(o.policy.egress.text)) : null,
        o.forward.map((x) => hopView(x.node, x.walk, 'forward')),
        o.policy.ingress ? h('p', null, String(o.policy.ingress.text)) : null,
        o.arrived ? h('p', { class: 'decision arrival' }, `⇒ ${o.arrived.text}`) : null,
        o.reply.length
          ? h(
              'div',
              { class: 'reply' },
              h('h2', null, 'The reply'),
              strip(o.arrived?.pod ? `pod ${o.arrived.pod}` : 'reply', o.reply, null),
              o.reply.map((x) => hopView(x.node, x.walk, 'reply')),
              o.replyArrived ? h('p', { class: 'decision reply-arrival' }, `⇒ ${o.replyArrived.text}`) : null,
            )
          : null,
      ),
    ),
  );
}

export async function showTrace(main: HTMLElement, modeEl: HTMLElement): Promise<void> {
  const topo = await getJSON<Topology>('/ui/api/topology');
  modeEl.textContent = `proxy mode: ${topo.mode}`;
  const q = new URLSearchParams(location.search);
  const input = (name: string, list: string, value: string, hint: string) =>
    h('label', null, hint, h('input', { name, list, value, autocomplete: 'off' }));
  const form = h(
    'form',
    { class: 'trace', id: 'trace-form' },
    input('from', 'trace-sources', q.get('from') ?? '', 'From (pod/NS/NAME, node/NAME or an outside IP)'),
    input(
      'to',
      'trace-destinations',
      q.get('to') ?? '',
      'To (svc/NS/NAME:PORT, pod/NS/NAME:PORT, node/NAME:NODEPORT)',
    ),
    h(
      'label',
      null,
      'Entry node (outside sources)',
      h(
        'select',
        { name: 'node' },
        h('option', { value: '' }, '(first node)'),
        topo.nodes.map((n) => h('option', { value: n.name, selected: q.get('node') === n.name }, n.name)),
      ),
    ),
    h(
      'label',
      null,
      'Every path',
      h('input', { type: 'checkbox', name: 'all', checked: q.get('all') === '1' }),
    ),
    h('button', { type: 'submit' }, 'Trace'),
    h(
      'datalist',
      { id: 'trace-sources' },
      sources(topo).map((s) => h('option', { value: s })),
    ),
    h(
      'datalist',
      { id: 'trace-destinations' },
      destinations(topo).map((s) => h('option', { value: s })),
    ),
  );
  const out = h('div', { id: 'trace-out' });
  replace(main, form, out);
  const run = async (params: URLSearchParams) => {
    replace(out, h('p', { class: 'muted' }, 'tracing...'));
    try {
      const t = await getJSON<Trace>(`/ui/api/trace?${params}`);
      replace(out, traceView(t, params.get('from') ?? ''));
    } catch (e) {
      replace(out, h('p', { class: 'error' }, (e as Error).message));
    }
  };
  form.addEventListener('submit', (ev) => {
    ev.preventDefault();
    const fd = new FormData(form as HTMLFormElement);
    const p = new URLSearchParams();
    for (const k of ['from', 'to', 'node', 'proto']) {
      const v = String(fd.get(k) ?? '').trim();
      if (v) p.set(k, v);
    }
    if (fd.get('all')) p.set('all', '1');
    history.pushState(null, '', `/ui/trace?${p}`);
    void run(p);
  });
  if (q.get('from') && q.get('to')) await run(q);
}
