/**
 * Which proxy mode `kpath up` runs: the --mode flag, else the KubeProxyConfiguration's mode, else
 * iptables (kube-proxy's default on Linux). userspace is the old userspace proxier;
 * iptables and ipvs decide each flow in the emulated kernel (programmed by that kube-proxy mode);
 * nftables is refused with a message until it is modelled.
 */
import type { ClusterSnapshot } from '../../../netmodel/cluster/index.js';
import { ErrorCodes, KpathError } from '../../../netmodel/errors.js';
import { IptablesMode } from './iptables.js';
import type { ModeName, ProxyMode } from './types.js';
import { UserspaceMode, type UserspaceOptions } from './userspace.js';

export const MODE_NAMES: readonly ModeName[] = ['userspace', 'iptables', 'ipvs'];

export interface ModeChoice {
  readonly mode: string;
  readonly from: 'flag' | 'KubeProxyConfiguration' | 'default';
}

export function chooseMode(flag: string | undefined, snap: ClusterSnapshot | undefined): ModeChoice {
  if (flag) return { mode: flag, from: 'flag' };
  if (snap?.proxy.origin) return { mode: snap.proxy.mode, from: 'KubeProxyConfiguration' };
  return { mode: 'iptables', from: 'default' };
}

/**
 * Build the mode, or throw KPATH_E_UNSUPPORTED / KPATH_E_USAGE with what to do instead. ipvs mode's
 * node program (proxy/ipvs) is loaded here, when ipvs mode is chosen: other modes never load IPVS.
 */
export async function createMode(choice: ModeChoice, opts: UserspaceOptions): Promise<ProxyMode> {
  const where =
    choice.from === 'flag'
      ? `--mode ${choice.mode}`
      : choice.from === 'KubeProxyConfiguration'
        ? `mode: ${choice.mode} in the KubeProxyConfiguration`
        : `${choice.mode} (kube-proxy's default when no mode is set)`;
  switch (choice.mode) {
    case 'userspace':
      return new UserspaceMode(opts);
    case 'iptables':
      return new IptablesMode(opts);
    case 'ipvs':
      return new IptablesMode({
        ...opts,
        kernelMode: 'ipvs',
        ipvs: (await import('../../ipvs/index.js')).programIpvs,
      });
    case 'nftables':
      throw new KpathError(
        ErrorCodes.UNSUPPORTED,
        `proxy mode ${where}: kpath up cannot run real traffic through the emulated ${choice.mode} datapath yet; ` +
          `run \`kpath up --mode iptables\` (kube-proxy's iptables rules, emulated) or \`--mode userspace\` (the old userspace proxier)`,
      );
    default:
      throw new KpathError(
        ErrorCodes.USAGE,
        `unknown proxy mode "${choice.mode}" (${where}); expected one of ${MODE_NAMES.join(', ')}`,
      );
  }
}
