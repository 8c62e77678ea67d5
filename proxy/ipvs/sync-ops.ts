/**
 * The IPVS and kube-ipvs0 operations one sync performs, as kube-proxy's syncProxyRules issues them
 * (proxier.go syncService, syncEndpoint, cleanLegacyService; ~v1.31), from what the kernel holds now to
 * what a render wants: the same changes `ipvsadm -A/-E/-D/-a/-e/-d` and `ip addr add/del` would make.
 *
 * Order: per virtual server in the render's order, the service is added (or edited when its scheduler,
 * flags or persistence differ), its address bound to kube-ipvs0 when wanted, then its real servers:
 * new ones added in the render's order, changed weights edited, unwanted ones deleted (the render
 * already kept gracefully terminating TCP servers at weight 0, see state.ts). Then addresses no
 * longer wanted are unbound, and virtual servers no longer wanted are deleted, except those inside
 * ipvs.excludeCIDRs and those of the other address family (kube-proxy leaves both alone).
 */

import type { Prefix } from '../../netmodel/addr.js';
import { type IP, joinHostPort, prefixContains } from '../../netmodel/addr.js';
import type { IpvsDestinationSpec, IpvsServiceSpec } from '../../netmodel/ipvs/types.js';
import type { IpvsNodeRender } from './render.js';

export type IpvsSyncOp =
  | { readonly op: 'add-service'; readonly service: IpvsServiceSpec }
  | { readonly op: 'edit-service'; readonly service: IpvsServiceSpec }
  | { readonly op: 'delete-service'; readonly service: IpvsServiceSpec }
  | { readonly op: 'add-dest'; readonly service: IpvsServiceSpec; readonly dest: IpvsDestinationSpec }
  | { readonly op: 'edit-dest'; readonly service: IpvsServiceSpec; readonly dest: IpvsDestinationSpec }
  | { readonly op: 'delete-dest'; readonly service: IpvsServiceSpec; readonly dest: IpvsDestinationSpec }
  | { readonly op: 'bind'; readonly device: string; readonly ip: IP }
  | { readonly op: 'unbind'; readonly device: string; readonly ip: IP };

export function serviceKey(s: Pick<IpvsServiceSpec, 'protocol' | 'vip' | 'port'>): string {
  return `${s.protocol}/${joinHostPort(s.vip, s.port)}`;
}

const destKey = (d: IpvsDestinationSpec) => joinHostPort(d.ip, d.port);

function sameService(a: IpvsServiceSpec, b: IpvsServiceSpec): boolean {
  return (
    a.scheduler === b.scheduler &&
    a.flags.join(',') === b.flags.join(',') &&
    (a.persistence?.timeoutSeconds ?? 0) === (b.persistence?.timeoutSeconds ?? 0) &&
    (a.persistence?.netmaskBits ?? 0) === (b.persistence?.netmaskBits ?? 0)
  );
}

/**
 * The operations that take a node from `current` (its virtual servers and kube-ipvs0 addresses) to
 * what `next` wants. `excludeCIDRs` is KubeProxyConfiguration ipvs.excludeCIDRs.
 */
export function ipvsSyncOps(
  current: { readonly services: readonly IpvsServiceSpec[]; readonly dummyAddresses: readonly IP[] },
  next: IpvsNodeRender,
  excludeCIDRs: readonly Prefix[] = [],
): IpvsSyncOp[] {
  const ops: IpvsSyncOp[] = [];
  const device = next.dummy.device;
  const have = new Map(current.services.map((s) => [serviceKey(s), s]));
  const bound = new Set(current.dummyAddresses.map((a) => a.text));
  const wantBound = new Set(next.dummy.addresses.map((a) => a.text));
  const active = new Set<string>();
  for (const s of next.services) {
    const key = serviceKey(s);
    active.add(key);
    const old = have.get(key);
    if (!old) ops.push({ op: 'add-service', service: s });
    else if (!sameService(old, s)) ops.push({ op: 'edit-service', service: s });
    if (wantBound.has(s.vip.text) && !bound.has(s.vip.text)) {
      ops.push({ op: 'bind', device, ip: s.vip });
      bound.add(s.vip.text);
    }
    const oldDests = new Map((old?.destinations ?? []).map((d) => [destKey(d), d]));
    const newKeys = new Set(s.destinations.map(destKey));
    for (const d of s.destinations) {
      const prev = oldDests.get(destKey(d));
      if (!prev) ops.push({ op: 'add-dest', service: s, dest: d });
      else if (prev.weight !== d.weight) ops.push({ op: 'edit-dest', service: s, dest: d });
    }
    for (const d of old?.destinations ?? [])
      if (!newKeys.has(destKey(d))) ops.push({ op: 'delete-dest', service: s, dest: d });
  }
  for (const a of current.dummyAddresses)
    if (!wantBound.has(a.text)) ops.push({ op: 'unbind', device, ip: a });
  const family = next.state.family;
  for (const s of current.services) {
    if (active.has(serviceKey(s))) continue;
    if (s.vip.family !== family) continue;
    if (excludeCIDRs.some((c) => prefixContains(c, s.vip))) continue;
    ops.push({ op: 'delete-service', service: s });
  }
  return ops;
}
