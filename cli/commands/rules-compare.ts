/**
 * `kpath rules --compare iptables,ipvs --service NS/NAME`: what each kube-proxy mode writes on one node
 * for one service, one block per mode (in the order given), each headed `===== MODE =====`:
 *
 * - iptables: the service's own rules, nat then filter, in restore syntax: its KUBE-SERVICES /
 *   KUBE-NODEPORTS entries, its KUBE-SVC/SVL/EXT/FW/SEP chains and their rules, its filter rules;
 * - ipvs: the ipset members kube-proxy adds for it (`add SET MEMBER`), its virtual servers with their
 *   real servers (`ipvsadm -Ln` lines without counters), the addresses bound to kube-ipvs0, and the
 *   iptables rules that match those sets (shared by every service: ipvs mode's rule count is constant).
 */
import type { Family } from '../../netmodel/addr.js';
import type { ClusterSnapshot } from '../../netmodel/cluster/index.js';
import { servicePortViews } from '../../netmodel/service/ports.js';
import { renderNode } from '../../proxy/iptables/index.js';
import { setNameIn } from '../../proxy/ipvs/index.js';
import { ipvsRenderFor } from './ipvs-node.js';

const lines = (text: string) => (text ? text.replace(/\n$/, '').split('\n') : []);

export function compareModes(
  snap: ClusterSnapshot,
  nodeName: string,
  family: Family,
  service: string | undefined,
  modes: readonly ('iptables' | 'ipvs')[],
): string | { error: string } {
  const views = servicePortViews(snap, nodeName, family);
  const key = service ?? (views.find((v) => v.endpoints.length > 0) ?? views[0])?.serviceKey;
  const mine = views.filter((v) => v.serviceKey === key);
  if (!key || mine.length === 0) {
    const known = [...new Set(views.map((v) => v.serviceKey))].join(', ') || 'none';
    return {
      error: `service "${service ?? ''}" has no ClusterIP of IPv${family} in this cluster (services kube-proxy handles: ${known}); use --service NAMESPACE/NAME`,
    };
  }
  const out: string[] = [`# ${key} on node ${nodeName} (IPv${family}): what each kube-proxy mode writes`];
  for (const mode of modes) {
    out.push('', `===== ${mode} =====`);
    if (mode === 'iptables') {
      const r = renderNode(snap, nodeName, { family });
      const ports = r.services.filter((p) => p.view.serviceKey === key);
      out.push('# nat');
      for (const p of ports) out.push(...lines(p.text.entry));
      for (const p of ports) out.push(...lines(p.text.chains));
      for (const p of ports) out.push(...lines(p.text.rules));
      out.push('# filter');
      for (const p of ports) out.push(...lines(p.text.filter));
      continue;
    }
    const r = ipvsRenderFor(snap, nodeName, family);
    const st = r.state;
    const vips = new Set<string>();
    const tokens: string[] = [];
    const ports = new Set<string>();
    for (const v of mine) {
      const proto = v.protocol.toLowerCase();
      for (const ip of [v.clusterIP, ...v.externalIPs, ...v.loadBalancerVIPs]) {
        vips.add(ip.text);
        tokens.push(`${ip.text},${proto}:${v.port}`);
      }
      for (const e of v.endpoints) if (e.isLocal) tokens.push(`${e.ip.text},${proto}:${e.port},${e.ip.text}`);
      if (v.nodePort) {
        ports.add(String(v.nodePort));
        tokens.push(...st.nodePortIPs.map((ip) => `${ip.text},sctp:${v.nodePort}`));
      }
      if (v.healthCheckNodePort) ports.add(String(v.healthCheckNodePort));
    }
    const usedSets = new Set<string>();
    out.push('# ipset members');
    for (const [set, members] of st.sets) {
      for (const m of members) {
        const hit =
          set === 'KUBE-IPVS-IPS'
            ? vips.has(m.text)
            : /^\d+$/.test(m.text)
              ? ports.has(m.text)
              : tokens.some((t) => m.text === t || m.text.startsWith(`${t},`));
        if (!hit) continue;
        usedSets.add(setNameIn(set, family));
        out.push(`add ${setNameIn(set, family)} ${m.text}`);
      }
    }
    out.push('# virtual servers (ipvsadm -Ln, counters left out)');
    for (const vs of st.virtualServers) {
      if (!mine.some((v) => v.name === vs.servicePort)) continue;
      const s = vs.spec;
      const addr = s.vip.family === 4 ? s.vip.text : `[${s.vip.text}]`;
      const flags = s.flags.length ? ` (${s.flags.join(',')})` : '';
      const persist = s.persistence ? ` persistent ${s.persistence.timeoutSeconds}` : '';
      out.push(`${s.protocol.padEnd(5)}${addr}:${s.port} ${s.scheduler}${flags}${persist}`);
      for (const d of s.destinations) {
        const da = d.ip.family === 4 ? d.ip.text : `[${d.ip.text}]`;
        out.push(`  -> ${`${da}:${d.port}`.padEnd(28)} ${d.forward.padEnd(7)} ${d.weight}`);
      }
      if (vs.localFallback)
        out.push('  # Local policy, no local endpoint: cluster endpoints used (PR 97081)');
    }
    out.push(`# ${r.dummy.device} addresses`);
    for (const ip of r.dummy.addresses)
      if (vips.has(ip.text)) out.push(`${ip.text}/${ip.family === 4 ? 32 : 128}`);
    out.push('# iptables rules matching those sets (the same rules serve every service)');
    for (const l of lines(r.rules.restore)) {
      const m = /--match-set (\S+)/.exec(l);
      if (m && usedSets.has(m[1]!)) out.push(l);
    }
  }
  return `${out.join('\n')}\n`;
}
