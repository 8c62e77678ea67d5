// The CNI plugins' iptables rules: portmap (hostPort) and the bridge plugin's ipMasq. Public surface, listed by hand.
export { applyIptOps, cniChainName, type IptOp, type IptTable } from './chains.js';
export { ipMasqAdd, ipMasqChain, ipMasqDel } from './ipmasq.js';
export { addHostPorts, cniNetworkName, hostPortsOf, sandboxId } from './node.js';
export {
  HOSTPORT_DNAT,
  HOSTPORT_MASQ,
  HOSTPORT_SETMARK,
  PORTMAP_MARK_BIT,
  type PortMapping,
  type PortmapConf,
  portmapAdd,
  portmapChain,
  portmapDel,
} from './portmap.js';
