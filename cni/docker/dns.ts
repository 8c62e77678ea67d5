/**
 * Names as a container resolves them (libnetwork's embedded DNS, resolverIPSandbox 127.0.0.11):
 * on a user-defined network the daemon answers the names of containers attached to the same
 * network; on the default bridge there is no embedded DNS (resolv.conf is the host's), so a
 * container name does not resolve there.
 */
import type { IP } from '../../netmodel/addr.js';
import type { DockerHostState } from './host.js';

export const EMBEDDED_DNS = '127.0.0.11';

export type NameAnswer =
  | { readonly ok: true; readonly ip: IP }
  | { readonly ok: false; readonly reason: string };

export function resolveContainerName(st: DockerHostState, from: string, name: string): NameAnswer {
  const me = st.plan.containers.find((c) => c.name === from);
  if (!me) return { ok: false, reason: `no container ${from}` };
  if (me.network.isDefault)
    return {
      ok: false,
      reason: `${from} is on the default bridge, which has no embedded DNS (its resolv.conf is the host's): "${name}" does not resolve; use a user-defined network`,
    };
  const target = st.plan.containers.find((c) => c.name === name);
  if (!target || target.network.name !== me.network.name)
    return {
      ok: false,
      reason: `the embedded DNS at ${EMBEDDED_DNS} answers only names on ${me.network.name} (${st.plan.containers
        .filter((c) => c.network.name === me.network.name)
        .map((c) => c.name)
        .join(', ')}); "${name}" is not one of them (NXDOMAIN from the upstream servers)`,
    };
  return { ok: true, ip: target.ip };
}
