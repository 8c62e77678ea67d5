/**
 * The nat table `kpath cni` keeps between invocations, as the plugins leave it on a host: the bridge
 * plugin's ipMasq chains and the portmap plugin's chains (cni/portmap), kept as iptables-save text in
 * the state and applied with kpath's emulated iptables.
 */
import { KernelNode } from '../../netmodel/kernel/index.js';
import { applyIptOps, type IptOp } from '../portmap/index.js';

/** The state's nat table after the operations (text as `iptables-save -t nat` prints it). */
export function applyToNat(saved: string | undefined, ops: readonly IptOp[]): string {
  const k = new KernelNode({ name: 'host' });
  if (saved) k.restore(saved, { noflush: true });
  applyIptOps(k, ops);
  return k.save({ tables: ['nat'] });
}

/** `iptables-save -t nat` of the state (an empty nat table when nothing was added). */
export function natSave(saved: string | undefined): string {
  const k = new KernelNode({ name: 'host' });
  if (saved) k.restore(saved, { noflush: true });
  return k.save({ tables: ['nat'] });
}

/** Is every rule of `ops`' add-unique operations present (the plugins' CHECK)? Names the first missing one. */
export function missingRule(saved: string | undefined, ops: readonly IptOp[]): string | undefined {
  const before = natSave(saved);
  for (const o of ops) {
    const after = applyToNat(before, [o]);
    if (after !== before) return o.op === 'ensure-chain' ? `chain ${o.chain}` : `rule in chain ${o.chain}`;
  }
  return undefined;
}
