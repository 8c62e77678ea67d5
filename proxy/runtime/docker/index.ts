// Docker hosts served by kpath up (DockerMode at the runtime's decision seam). Listed by hand.
export {
  type DockerContainerStatus,
  DockerHosts,
  type DockerHostsOptions,
  dockerListeners,
} from './hosts.js';
export { clientSource, DockerMode, dockerServicePort } from './mode.js';
export { dockerLoopbackMap } from './twins.js';
