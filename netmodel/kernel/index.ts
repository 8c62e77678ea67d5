// The emulated kernel of one node: state (KernelNode) and the packet walker. Public surface, listed by hand.
export { KernelNode, type KernelNodeOptions } from './node.js';
export type { Outcome, Stage, WalkResult } from './outcome.js';
export { receive, send, type WalkEnv } from './walk.js';
