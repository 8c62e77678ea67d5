// The pod-network differential, listed by hand: the topology spec, the harness that builds it in
// namespaces and captures, kpath's side of the same cluster (emulate.ts), and the field-by-field comparison.
export { type CompareOptions, compareCaptures, notArp, sentTraffic } from './compare.js';
export {
  alignWithModel,
  clusterYaml,
  type EmulatedSend,
  emulateSend,
  type ModelCluster,
  type ModelNetwork,
  traceArgs,
  writeCluster,
} from './emulate.js';
export {
  captureRealTopology,
  cleanupStale,
  NS_PREFIX,
  type RealRun,
  runRealTopology,
  type SendResult,
  unavailableReason,
} from './real.js';
export {
  type CapturePoint,
  captureName,
  defaultMacScheme,
  gatewayAddress,
  hostVethName,
  type MacRef,
  type MacScheme,
  type NodeSpec,
  type PodSpec,
  podAddress,
  type RealTopologySpec,
  type Send,
  twoNodeSpec,
  vtepAddress,
} from './spec.js';
