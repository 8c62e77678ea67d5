// The emulated kernel of one node: state (KernelNode) and the packet walker. Public surface, listed by hand.
export {
  type ArpAnswer,
  type ArpExchange,
  arpExchange,
  type L2Hop,
  l2Path,
  MCAST_SOLICIT,
  resolveArp,
} from './arp.js';
export {
  formatBridgeFdb,
  formatIpAddr,
  formatIpLink,
  formatIpNeigh,
  formatIpRoute,
  linkLocalOf,
} from './iproute2.js';
export { KernelNode, type KernelNodeOptions } from './node.js';
export type { Outcome, Stage, WalkResult } from './outcome.js';
export {
  bridged,
  dnatOf,
  receive,
  receiveOutcome,
  receiveVerdict,
  send,
  sendOutcome,
  sendVerdict,
  snatOf,
  type Travel,
  type TravelEnd,
  type TravelOptions,
  type TravelStep,
  travel,
  type WalkEnv,
  type WalkVerdict,
} from './walk.js';
export { type Attachment, type NetWorld, podNsName, podOfNs } from './world.js';
