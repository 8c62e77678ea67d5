/**
 * Endpoint eligibility, decided once for every proxy mode (kube-proxy's CategorizeEndpoints in
 * pkg/proxy/topology.go, ~v1.31, without topology hints):
 *
 * - Cluster endpoints (only when the port uses Cluster policy somewhere): the Ready endpoints; if there
 *   are none, the endpoints that are Serving and Terminating.
 * - Local endpoints (only when the port uses Local policy somewhere): the local Ready endpoints; if there
 *   are none, the local Serving+Terminating ones. The fallback is decided for Local independently.
 * - hasAnyEndpoints: a usable (Ready, or Serving+Terminating) endpoint exists anywhere. It decides
 *   REJECT (nothing anywhere) against DROP (nothing local) in the iptables proxier.
 * - allReachableEndpoints: every endpoint this node may send to under the port's policies (the union of
 *   the two lists when they can differ), sorted by `ip:port` like the inputs.
 */
import type { EndpointView, ServicePortView } from './ports.js';

export interface EndpointCategories {
  readonly clusterEndpoints: readonly EndpointView[];
  readonly localEndpoints: readonly EndpointView[];
  readonly allReachableEndpoints: readonly EndpointView[];
  readonly hasAnyEndpoints: boolean;
  /** Some local endpoint is Ready. */
  readonly hasLocalReadyEndpoints: boolean;
  /** Some local endpoint is Serving and Terminating (whether or not it was needed). */
  readonly hasLocalServingTerminatingEndpoints: boolean;
  /** Local endpoints fell back to Serving+Terminating ones. */
  readonly localUsesTerminating: boolean;
  /** Cluster endpoints fell back to Serving+Terminating ones. */
  readonly clusterUsesTerminating: boolean;
}

type PortPolicy = Pick<ServicePortView, 'usesClusterEndpoints' | 'usesLocalEndpoints' | 'endpoints'>;

const servingTerminating = (e: EndpointView) => e.serving && e.terminating;
const isReady = (e: EndpointView) => e.ready;
const isLocalReady = (e: EndpointView) => e.isLocal && e.ready;
const isLocalServingTerminating = (e: EndpointView) => e.isLocal && servingTerminating(e);
const NONE: readonly EndpointView[] = Object.freeze([]);

export function categorizeEndpoints(port: PortPolicy): EndpointCategories {
  const eps = port.endpoints;
  // One pass for the counts every decision below needs (no allocation when all are Ready, the usual case).
  let ready = 0;
  let servingTerminatingCount = 0;
  let hasLocalReadyEndpoints = false;
  let hasLocalServingTerminatingEndpoints = false;
  for (const e of eps) {
    if (e.ready) {
      ready++;
      if (e.isLocal) hasLocalReadyEndpoints = true;
    } else if (servingTerminating(e)) {
      servingTerminatingCount++;
      if (e.isLocal) hasLocalServingTerminatingEndpoints = true;
    }
  }

  let clusterEndpoints = NONE;
  let clusterUsesTerminating = false;
  let hasAnyEndpoints = false;
  if (port.usesClusterEndpoints) {
    if (ready > 0) clusterEndpoints = ready === eps.length ? eps : eps.filter(isReady);
    else if (servingTerminatingCount > 0) {
      clusterEndpoints = eps.filter(servingTerminating);
      clusterUsesTerminating = true;
    }
    hasAnyEndpoints = clusterEndpoints.length > 0;
  }
  if (port.usesLocalEndpoints && ready + servingTerminatingCount > 0) hasAnyEndpoints = true;

  let localEndpoints = NONE;
  let localUsesTerminating = false;
  let allReachableEndpoints = clusterEndpoints;
  if (port.usesLocalEndpoints) {
    if (hasLocalReadyEndpoints) localEndpoints = eps.filter(isLocalReady);
    else if (hasLocalServingTerminatingEndpoints) {
      localUsesTerminating = true;
      localEndpoints = eps.filter(isLocalServingTerminating);
    }
    if (!port.usesClusterEndpoints) allReachableEndpoints = localEndpoints;
    // Without topology, cluster endpoints hold every Ready endpoint, a superset of Ready local ones.
    else if (localUsesTerminating) {
      const union = new Map<string, EndpointView>();
      for (const e of clusterEndpoints) union.set(e.text, e);
      for (const e of localEndpoints) union.set(e.text, e);
      allReachableEndpoints = [...union.values()].sort((a, b) =>
        a.text < b.text ? -1 : a.text > b.text ? 1 : 0,
      );
    }
  }
  return {
    clusterEndpoints,
    localEndpoints,
    allReachableEndpoints,
    hasAnyEndpoints,
    hasLocalReadyEndpoints,
    hasLocalServingTerminatingEndpoints,
    localUsesTerminating,
    clusterUsesTerminating,
  };
}
