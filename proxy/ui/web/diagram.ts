/**
 * The topology as a picture: services along the top, nodes below with their pods, and a line from
 * each service to every pod behind it (dashed red: not ready), crossing nodes as the traffic does.
 * Large clusters get the tables only (the picture would be a hairball).
 */
import { h } from './dom.js';
import type { Topology } from './types.js';

export const DIAGRAM_MAX_PODS = 120;
export const DIAGRAM_MAX_SERVICES = 60;

const SVG = 'http://www.w3.org/2000/svg';
const SVC_W = 180;
const SVC_H = 38;
const NODE_W = 240;
const POD_H = 22;
const GAP = 16;

function s(tag: string, attrs: Record<string, string | number>, ...children: (Node | string)[]): SVGElement {
  const el = document.createElementNS(SVG, tag);
  for (const [k, v] of Object.entries(attrs)) el.setAttribute(k, String(v));
  for (const c of children) el.append(c);
  return el;
}

export function diagram(t: Topology): Element {
  const pods = t.nodes.reduce((n, x) => n + x.pods.length, 0);
  if (pods > DIAGRAM_MAX_PODS || t.services.length > DIAGRAM_MAX_SERVICES)
    return h(
      'p',
      { class: 'muted' },
      `(picture left out above ${DIAGRAM_MAX_PODS} pods or ${DIAGRAM_MAX_SERVICES} services: see the tables)`,
    );
  const width = Math.max(t.nodes.length * (NODE_W + GAP) + GAP, 600);
  const perRow = Math.max(1, Math.floor((width - GAP) / (SVC_W + GAP)));
  const services = t.services.filter((x) => x.type !== 'ExternalName');
  const svcRows = Math.ceil(services.length / perRow);
  const nodesY = GAP + svcRows * (SVC_H + GAP) + 50;
  const podPos = new Map<string, { x: number; y: number }>();
  const parts: SVGElement[] = [];
  let tallest = 0;
  t.nodes.forEach((n, i) => {
    const x = GAP + i * (NODE_W + GAP);
    const hgt = 30 + n.pods.length * (POD_H + 4) + 6;
    tallest = Math.max(tallest, hgt);
    parts.push(
      s('rect', { x, y: nodesY, width: NODE_W, height: hgt, rx: 6, class: 'd-node' }),
      s('text', { x: x + 8, y: nodesY + 19, class: 'd-title' }, `${n.name} ${n.ips[0] ?? ''}`),
    );
    n.pods.forEach((p, j) => {
      const y = nodesY + 30 + j * (POD_H + 4);
      podPos.set(`${p.namespace}/${p.name}`, { x: x + NODE_W / 2, y });
      parts.push(
        s('rect', {
          x: x + 8,
          y,
          width: NODE_W - 16,
          height: POD_H,
          rx: 4,
          class: p.ready ? 'd-pod ready' : 'd-pod',
        }),
        s(
          'text',
          { x: x + 14, y: y + 15, class: 'd-text' },
          `${p.name.length > 22 ? `${p.name.slice(0, 21)}…` : p.name} ${p.ip ?? ''}`,
        ),
      );
    });
  });
  const lines: SVGElement[] = [];
  services.forEach((svc, i) => {
    const x = GAP + (i % perRow) * (SVC_W + GAP);
    const y = GAP + Math.floor(i / perRow) * (SVC_H + GAP);
    parts.push(
      s('rect', { x, y, width: SVC_W, height: SVC_H, rx: 6, class: 'd-svc' }),
      s('text', { x: x + 8, y: y + 15, class: 'd-title' }, `${svc.namespace}/${svc.name}`),
      s(
        'text',
        { x: x + 8, y: y + 31, class: 'd-text' },
        `${svc.clusterIPs[0] ?? 'None'} ${svc.ports.map((p) => p.port).join(',')}`,
      ),
    );
    const seen = new Set<string>();
    for (const p of svc.ports)
      for (const e of p.endpoints) {
        if (!e.pod || seen.has(e.pod)) continue;
        seen.add(e.pod);
        const to = podPos.get(e.pod);
        if (!to) continue;
        const fx = x + SVC_W / 2;
        const fy = y + SVC_H;
        lines.push(
          s('path', {
            d: `M${fx},${fy} C${fx},${fy + 60} ${to.x},${to.y - 60} ${to.x},${to.y}`,
            class: e.ready ? 'd-edge' : 'd-edge notready',
            'data-edge': `${svc.namespace}/${svc.name}>${e.pod}`,
          }),
        );
      }
  });
  const height = nodesY + tallest + GAP;
  return s('svg', { id: 'diagram', width, height, viewBox: `0 0 ${width} ${height}` }, ...lines, ...parts);
}
