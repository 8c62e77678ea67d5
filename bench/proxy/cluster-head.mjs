/**
 * The Cluster, KubeProxyConfiguration and Node documents both proxy benchmarks start from
 * (bench/proxy/run.mjs runs them for real, bench/proxy-decide.mjs drives the mode alone): one node,
 * 10.244.1.0/24 pods, 10.96.0.0/12 services, no DNS addon (one kpath per mode runs side by side, and
 * each would claim 10.96.0.10:53 and its pods' IPs). Services and endpoints are appended after it.
 */
export function clusterHead(mode) {
  return `apiVersion: kpath.dev/v1alpha1
kind: Cluster
metadata:
  name: bench-${mode}
spec:
  podCIDR: 10.244.0.0/16
  serviceCIDR: 10.96.0.0/12
  dns:
    addon: false
---
apiVersion: kubeproxy.config.k8s.io/v1alpha1
kind: KubeProxyConfiguration
mode: ${mode}
clusterCIDR: 10.244.0.0/16
---
apiVersion: v1
kind: Node
metadata:
  name: node-a
spec:
  podCIDR: 10.244.1.0/24
status:
  addresses:
    - type: InternalIP
      address: 10.240.0.11
`;
}
