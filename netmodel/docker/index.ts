// Docker hosts as data: the DockerHost input, -p parsing and dockerd's decisions. Listed by hand.
export type {
  DockerContainerSpec,
  DockerHost,
  DockerNetworkSpec,
  EngineVersion,
  PortProto,
  PortSpec,
} from './host.js';
export {
  type ContainerPlan,
  DEFAULT_BRIDGE_NET,
  DOCKER0,
  type DockerPlan,
  dockerId,
  EPHEMERAL_FIRST,
  EPHEMERAL_LAST,
  macFromIP,
  type NetworkPlan,
  type PlanProblem,
  type PortBinding,
  planDockerHost,
} from './plan.js';
export { parsePortSpec } from './ports.js';
