// The cluster model's public surface, listed by hand.
export { allocateNodes, allocatePodIPs, allocateServices, OffsetAllocator, staticBand } from './allocate.js';
export {
  BUILTIN_NAMESPACES,
  type BuildOptions,
  type BuildResult,
  buildCluster,
  buildClusterFromObjects,
} from './build.js';
export { MANAGED_BY_LABEL, SERVICE_NAME_LABEL } from './decode-endpoints.js';
export {
  decodeNetworkPolicy,
  NAMESPACE_NAME_LABEL,
  withNamespaceNameLabel,
} from './decode-networkpolicy.js';
export { DEFAULT_AFFINITY_TIMEOUT, MAX_AFFINITY_TIMEOUT } from './decode-service.js';
export { CLUSTER_DEFAULTS, PROXY_DEFAULTS } from './defaults.js';
export {
  type Diagnostic,
  type FieldPath,
  formatDiagnostic,
  formatObjectRef,
  formatPath,
  type ObjectRef,
  type Origin,
  Reporter,
  type SourcePos,
} from './diagnostics.js';
export { ADDED_ANNOTATION, DNS_ADDON_REASON, dnsAddonManifest } from './dns-addon.js';
export type { EndpointsAddressJson, EndpointsSubsetJson } from './endpoints.js';
export {
  deriveEndpointSlices,
  deriveEndpointsSubsets,
  endpointSliceBodyJson,
  podIsEndpointCandidate,
  resolveTargetPort,
} from './endpoints.js';
export {
  canonicalJson,
  fnv1a32,
  podTemplateHash,
  randomSuffix,
  SAFE_ALPHABET,
  safeEncode,
  uidFor,
} from './hash.js';
export { isPlainObject, type ManifestSource, parseManifests, type RawObject } from './manifest.js';
export * from './names.js';
export * from './objects.js';
export { Scheduler, tolerates, unfitReason, unschedulableMessage } from './scheduler.js';
export { KIND_SCHEMAS, type Schema } from './schema.js';
export {
  formatSelector,
  isEmptySelector,
  matchesRequirement,
  matchesSelector,
  selectorFromMap,
} from './selector.js';
export { matchesTerms, parseSelector, type SelectorOp, type SelectorTerm } from './selector-parse.js';
export { servicePortJson, serviceSpecJson, serviceStatusJson } from './service-json.js';
export { ClusterSnapshot, type SnapshotParts } from './snapshot.js';
export {
  type ClusterChange,
  ClusterStore,
  diffSnapshots,
  fingerprint,
  isEmptyChange,
  type KindDiff,
} from './store.js';
export { pruneUnknownFields, unknownFieldPaths } from './strict.js';
export { DELETED_PODS_ANNOTATION } from './workloads.js';
