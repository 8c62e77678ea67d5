// dockerd's bridge driver as a pure function of a DockerHost. Public surface, listed by hand.

export {
  containersTable,
  displayablePorts,
  dockerNetworkInspect,
  dockerNetworkLs,
  dockerPs,
  tabwrite,
} from './cli-format.js';
export {
  EMBEDDED_DNS,
  EMBEDDED_DNS_TTL,
  embeddedDnsReply,
  type NameAnswer,
  resolveContainerName,
} from './dns.js';
export {
  bridgeMac,
  buildDockerHost,
  containerNs,
  DOCKER_SEGMENT,
  type DockerHostState,
  HOST_UPLINK,
} from './host.js';
export {
  DOCKER_CHAIN,
  dockerdCommands,
  dockerdRestore,
  type IptablesCommand,
  ISOLATION1,
  ISOLATION2,
  USER_CHAIN,
} from './iptables.js';
export {
  type DockerSource,
  type DockerTrace,
  type DockerTraceLeg,
  proxyFor,
  sourceAddress,
  traceDocker,
} from './trace.js';
