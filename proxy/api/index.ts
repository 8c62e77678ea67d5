// The Kubernetes API server's public surface, listed by hand.
export { type ApiCredentials, loadOrCreateCredentials } from './certs.js';
export {
  CONTEXT_NAME,
  defaultKubeconfigPath,
  defaultStateDir,
  kubeconfigText,
  mergeKubeconfig,
  writeKubeconfig,
} from './kubeconfig.js';
export { API_DEFAULTS, ApiServer, isLoopbackHost } from './server.js';
export { ApiService, type ApiServiceOptions } from './service.js';
export { ApiStore, type ClusterHost } from './store.js';
export { humanDuration } from './table.js';
