/**
 * A Docker host as the docker commands that built it (kind: DockerHost, apiVersion
 * kpath.dev/v1alpha1): the engine, `docker network create` in order, `docker run` in order.
 */
import type { Prefix } from '../addr.js';
import type { Origin } from '../cluster/diagnostics.js';

export type EngineVersion = '20.10' | '28';
export type PortProto = 'tcp' | 'udp' | 'sctp';

/** One `-p` argument as `docker run` takes it (go-connections nat.ParsePortSpec). */
export interface PortSpec {
  /** The argument as written (e.g. "127.0.0.1:8081:80/udp"). */
  readonly text: string;
  /** Host IP; "" means all addresses (0.0.0.0). */
  readonly hostIP: string;
  /** Host port range; undefined: a port from the ephemeral range (`-p 80`, `-p ip::80`). */
  readonly hostPorts?: { readonly start: number; readonly end: number };
  readonly containerPorts: { readonly start: number; readonly end: number };
  readonly proto: PortProto;
}

export interface DockerNetworkSpec {
  readonly name: string;
  /** `--subnet`; else the next free default pool. */
  readonly subnet?: Prefix;
  /** `--internal`: no route out, no NAT, no published ports; isolated by two DROP rules. */
  readonly internal?: boolean;
  /** `-o com.docker.network.bridge.enable_icc=false`: containers on the bridge cannot talk. Default true. */
  readonly icc?: boolean;
  /** `-o com.docker.network.bridge.name=NAME`: the bridge's name instead of br-<id>. */
  readonly bridgeName?: string;
}

export interface DockerContainerSpec {
  readonly name: string;
  readonly image: string;
  /** `--network`: "bridge" (docker0) or a network created above. */
  readonly network: string;
  readonly ports: readonly PortSpec[];
  /** `--expose` (compose `expose:`): ports the container listens on without publishing them. */
  readonly expose?: readonly { readonly port: number; readonly proto: PortProto }[];
}

export interface DockerHost {
  readonly kind: 'DockerHost';
  readonly name: string;
  /** The host's eth0 address and prefix length (e.g. 192.0.2.1/24). */
  readonly address: { readonly ip: Prefix['ip']; readonly bits: number };
  readonly engine: {
    readonly version: EngineVersion;
    readonly userlandProxy: boolean;
    /** dockerd `--icc` (docker0's inter-container communication; default true). */
    readonly icc?: boolean;
  };
  /**
   * net.ipv4.ip_forward before dockerd started (default false, a fresh host): when dockerd has to
   * turn it on it also sets the FORWARD policy to DROP (setupIPForwarding).
   */
  readonly ipForward: boolean;
  readonly networks: readonly DockerNetworkSpec[];
  readonly containers: readonly DockerContainerSpec[];
  readonly origin?: Origin;
}
