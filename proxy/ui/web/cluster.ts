/** The cluster view: topology (nodes, pods, services, endpoints) and the live state over SSE. */

import { diagram } from './diagram.js';
import { type Child, getJSON, h, replace } from './dom.js';
import { liveIsCurrent, topologyBehind, topologyToDraw } from './redraw.js';
import type { Connection, Live, Topology } from './types.js';

const dot = (ready: boolean) =>
  h('span', { class: ready ? 'dot ready' : 'dot', title: ready ? 'ready' : 'not ready' });

function topologyView(t: Topology): HTMLElement {
  const pod = (p: Topology['unscheduled'][number]) =>
    h(
      'div',
      { class: p.ready ? 'pod ready' : 'pod', 'data-pod': `${p.namespace}/${p.name}` },
      dot(p.ready),
      h('span', { class: 'name' }, `${p.namespace}/${p.name}`),
      h('code', null, p.ip ?? p.phase),
      h(
        'span',
        { class: 'muted state' },
        p.ready ? 'ready' : `not ready${p.phase === 'Running' ? '' : ` (${p.phase})`}`,
      ),
    );
  const nodes = h(
    'div',
    { class: 'nodes' },
    t.nodes.map((n) =>
      h(
        'section',
        { class: 'node', 'data-node': n.name },
        h('h3', null, dot(n.ready), ' ', n.name, ' ', h('code', { class: 'muted' }, n.ips.join(', '))),
        h('div', { class: 'muted' }, `pods ${n.podCIDRs.join(', ') || '-'} · ${n.pods.length} pod(s)`),
        n.pods.map(pod),
      ),
    ),
    t.unscheduled.length
      ? h(
          'section',
          { class: 'node', 'data-node': '' },
          h('h3', null, 'Pending (no node)'),
          t.unscheduled.map(pod),
        )
      : null,
  );
  const rows: Child[] = [];
  for (const s of t.services) {
    const key = `${s.namespace}/${s.name}`;
    for (const [i, p] of s.ports.entries()) {
      rows.push(
        h(
          'tr',
          { 'data-service': key, 'data-port': `${key}:${p.name}` },
          h('td', null, i === 0 ? key : ''),
          h('td', null, i === 0 ? s.type : ''),
          h('td', null, h('code', null, s.headless ? 'None' : s.clusterIPs.join(', ') || '-')),
          h(
            'td',
            null,
            h('code', null, `${p.name ? `${p.name} ` : ''}${p.port}/${p.protocol} → ${p.targetPort}`),
            p.nodePort ? h('div', { class: 'muted' }, `nodePort ${p.nodePort}`) : null,
          ),
          h(
            'td',
            null,
            p.endpoints.length
              ? p.endpoints.map((e) =>
                  h(
                    'span',
                    {
                      class: e.ready ? 'ep' : 'ep notready',
                      title: `${e.pod ?? 'no pod'} on ${e.node ?? '?'}${e.ready ? '' : ' (not ready)'}`,
                    },
                    h('code', null, e.address),
                    e.pod ? h('span', { class: 'muted' }, ` ${e.pod.split('/')[1]}@${e.node ?? '?'}`) : null,
                  ),
                )
              : h('span', { class: 'muted' }, 'no endpoints'),
          ),
          h('td', { class: 'count', 'data-count': `${key}:${p.name}` }, '0'),
        ),
      );
    }
  }
  return h(
    'div',
    { id: 'topology' },
    h(
      'p',
      { class: 'muted', id: 'network' },
      `pods ${t.podCIDRs.join(', ')} · services ${t.serviceCIDRs.join(', ')} · pod network: ${t.podNetwork}`,
    ),
    diagram(t),
    h('h2', null, `Nodes (${t.nodes.length})`),
    nodes,
    h('h2', null, `Services (${t.services.length})`),
    h(
      'table',
      { id: 'services' },
      h(
        'thead',
        null,
        h(
          'tr',
          null,
          ['Service', 'Type', 'Cluster IP', 'Port', 'Endpoints', 'Open connections'].map((x) =>
            h('th', null, x),
          ),
        ),
      ),
      h('tbody', null, rows),
    ),
  );
}

function tuple(t: { src: string; dst: string; sport: number; dport: number } | null): string {
  return t ? `${t.src}:${t.sport} → ${t.dst}:${t.dport}` : '-';
}

/** The same connection's first packet in the trace view: from its source, entering its entry node. */
function traceLink(c: Connection): string {
  const [svc, port] = [
    c.service.slice(0, c.service.lastIndexOf(':')),
    c.service.slice(c.service.lastIndexOf(':') + 1),
  ];
  const p = new URLSearchParams({
    from: `${c.original.src}:${c.original.sport}`,
    to: `svc/${svc}:${port || c.original.dport}`,
    node: c.entryNode,
    proto: c.protocol,
  });
  return `/ui/trace?${p}`;
}

function connRow(c: Connection): HTMLElement {
  return h(
    'tr',
    { 'data-conn': c.id, 'data-sport': c.original.sport },
    h('td', null, c.protocol),
    h('td', null, c.state),
    h('td', null, h('code', null, tuple(c.original))),
    h('td', null, h('code', null, tuple(c.reply))),
    h('td', null, c.service),
    h('td', null, h('code', null, c.endpoint ?? '-')),
    h('td', null, c.entryNode),
    h('td', null, `${c.ageSeconds}s`),
    h('td', null, `${c.original.bytes}/${c.reply?.bytes ?? 0}`),
    h('td', null, h('a', { href: traceLink(c), class: 'trace-link' }, 'trace')),
  );
}

function liveView(): HTMLElement {
  const head = (cols: string[]) =>
    h(
      'thead',
      null,
      h(
        'tr',
        null,
        cols.map((x) => h('th', null, x)),
      ),
    );
  return h(
    'div',
    { id: 'live' },
    h('h2', null, 'Open connections ', h('span', { id: 'conn-count', class: 'muted' }, '')),
    h(
      'table',
      { id: 'conntrack' },
      head([
        'Proto',
        'State',
        'Original',
        'Reply',
        'Service',
        'Endpoint',
        'Entry node',
        'Age',
        'Bytes (orig/reply)',
        '',
      ]),
      h('tbody', null),
    ),
    h('div', { id: 'closing', class: 'muted' }, ''),
    h('h2', null, 'Recent policy denials'),
    h(
      'table',
      { id: 'denials' },
      head(['Time', 'Action', 'Direction', 'Pod', 'Client', 'Service port', 'Endpoint', 'Why']),
      h('tbody', null),
    ),
  );
}

let source: EventSource | undefined;

export function stopCluster(): void {
  source?.close();
  source = undefined;
}

export async function showCluster(
  main: HTMLElement,
  status: HTMLElement,
  modeEl: HTMLElement,
): Promise<void> {
  const t0 = performance.now();
  let topo = await getJSON<Topology>('/ui/api/topology');
  modeEl.textContent = `proxy mode: ${topo.mode}`;
  const live = liveView();
  const top = h('div', null, topologyView(topo));
  replace(main, top, live);
  main.dataset.renderMs = (performance.now() - t0).toFixed(1);
  let refetching = false;
  /** pod "ns/name" -> its element in the topology, rebuilt after each redraw */
  const podEls = new Map<string, HTMLElement>();
  stopCluster();
  source = new EventSource('/ui/api/events');
  let reconnecting = false;
  source.onopen = () => {
    status.textContent = 'live';
    // A restarted kpath up counts versions anew: take its topology whatever its version.
    if (reconnecting) topo = { ...topo, version: -1 };
    reconnecting = false;
  };
  source.onerror = () => {
    status.textContent = 'reconnecting';
    reconnecting = true;
  };
  let last: Live | undefined;
  const applyLive = (l: Live) => {
    const u0 = performance.now();
    if (topologyBehind(topo, l) && !refetching) {
      // The cluster changed (manifests reloaded or readiness moved endpoints): redraw the topology,
      // starting from the live state (redraw.ts), never from an older one.
      refetching = true;
      void getJSON<Topology>('/ui/api/topology')
        .then((t) => {
          topo = t;
          replace(top, topologyView(topologyToDraw(t, last)));
          podEls.clear();
          refetching = false;
          // The server sends only changes: the last message's counters and tables on the new
          // topology, and another fetch if the live state moved on meanwhile.
          if (last) applyLive(last);
        })
        .finally(() => {
          refetching = false;
        });
    }
    const tbody = live.querySelector('#conntrack tbody')!;
    replace(tbody, l.connections.map(connRow));
    live.querySelector('#conn-count')!.textContent = `(${l.connections.length})`;
    live.querySelector('#closing')!.textContent = l.closing
      ? `${l.closing} closed entr${l.closing === 1 ? 'y' : 'ies'} ageing out (TIME_WAIT/CLOSE), as the kernel keeps them`
      : '';
    for (const td of top.querySelectorAll<HTMLElement>('td[data-count]')) {
      const key = td.dataset.count!;
      td.textContent = String(l.perService[key] ?? 0);
    }
    if (podEls.size === 0)
      for (const el of top.querySelectorAll<HTMLElement>('[data-pod]')) podEls.set(el.dataset.pod!, el);
    // A message older than the drawn topology would draw pods as they were before it.
    for (const p of liveIsCurrent(topo, l) ? l.pods : []) {
      const el = podEls.get(p.pod);
      if (!el || el.classList.contains('ready') === p.ready) continue;
      el.classList.toggle('ready', p.ready);
      el.querySelector('.dot')?.classList.toggle('ready', p.ready);
      const st = el.querySelector('.state');
      if (st) st.textContent = p.ready ? 'ready' : 'not ready';
    }
    replace(
      live.querySelector('#denials tbody')!,
      l.denials
        .slice()
        .reverse()
        .map((d) =>
          h(
            'tr',
            null,
            h('td', null, new Date(d.time).toLocaleTimeString()),
            h('td', null, d.action),
            h('td', null, d.direction),
            h('td', null, d.pod),
            h('td', null, h('code', null, d.client)),
            h('td', null, d.servicePort),
            h('td', null, h('code', null, d.endpoint)),
            h('td', null, d.reason),
          ),
        ),
    );
    const ms = performance.now() - u0;
    main.dataset.updateMs = ms.toFixed(1);
    main.dataset.updateMaxMs = Math.max(ms, Number(main.dataset.updateMaxMs ?? 0)).toFixed(1);
    main.dataset.updateTotalMs = (ms + Number(main.dataset.updateTotalMs ?? 0)).toFixed(1);
    main.dataset.updates = String(Number(main.dataset.updates ?? 0) + 1);
  };
  source.addEventListener('live', (ev) => {
    const l = JSON.parse((ev as MessageEvent<string>).data) as Live;
    if (l.error) {
      status.textContent = `error: ${l.error}`;
      return;
    }
    last = l;
    applyLive(l);
  });
}
