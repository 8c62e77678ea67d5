/**
 * The DNS addon every real cluster has: kubeadm installs CoreDNS as the kube-system/coredns Deployment
 * (2 replicas) behind the kube-system/kube-dns Service at the tenth address of the service CIDR
 * (kubeadm's GetDNSIP), ports dns 53/UDP, dns-tcp 53/TCP and metrics 9153/TCP. kpath adds the objects
 * that are missing when the manifests have no kube-dns Service, marked with ADDED_ANNOTATION; the
 * Cluster field spec.dns.addon: false turns this off. Under `kpath up` the coredns pods are served by
 * kpath's built-in DNS server.
 */
import { prefixNth } from '../addr.js';
import type { ClusterConfig, Service, Workload } from './objects.js';

/** Set on objects kpath added; its value says why and how to turn it off. */
export const ADDED_ANNOTATION = 'kpath.dev/added';
export const DNS_ADDON_REASON =
  'the manifests have no kube-system/kube-dns Service; kpath adds the DNS addon every cluster has (Cluster spec.dns.addon: false turns it off)';

/** YAML for the addon objects that are missing (empty when nothing is). */
export function dnsAddonManifest(
  config: ClusterConfig,
  services: readonly Service[],
  workloads: readonly Workload[],
): string {
  if (!config.dns.addon) return '';
  const has = (list: readonly { meta: { namespace: string; name: string } }[], name: string) =>
    list.some((o) => o.meta.namespace === 'kube-system' && o.meta.name === name);
  if (has(services, 'kube-dns')) return '';
  const cidr = config.serviceCIDRs[0];
  const tenth = cidr ? prefixNth(cidr, 10n) : undefined;
  const taken = tenth && services.some((s) => s.clusterIPs.some((ip) => ip.text === tenth.text));
  const annotations = `  annotations:\n    ${ADDED_ANNOTATION}: "${DNS_ADDON_REASON}"\n`;
  const labels = `  labels:\n    k8s-app: kube-dns\n    kubernetes.io/cluster-service: "true"\n    kubernetes.io/name: CoreDNS\n`;
  const docs: string[] = [];
  docs.push(`apiVersion: v1
kind: Service
metadata:
  name: kube-dns
  namespace: kube-system
${labels}${annotations}spec:
${tenth && !taken ? `  clusterIP: ${tenth.text}\n` : ''}  selector:
    k8s-app: kube-dns
  ports:
    - name: dns
      port: 53
      protocol: UDP
      targetPort: 53
    - name: dns-tcp
      port: 53
      protocol: TCP
      targetPort: 53
    - name: metrics
      port: 9153
      protocol: TCP
      targetPort: 9153
`);
  if (!has(workloads, 'coredns')) {
    docs.push(`apiVersion: apps/v1
kind: Deployment
metadata:
  name: coredns
  namespace: kube-system
  labels:
    k8s-app: kube-dns
${annotations}spec:
  replicas: 2
  selector:
    matchLabels:
      k8s-app: kube-dns
  template:
    metadata:
      labels:
        k8s-app: kube-dns
    spec:
      priorityClassName: system-cluster-critical
      tolerations:
        - key: CriticalAddonsOnly
          operator: Exists
        - key: node-role.kubernetes.io/control-plane
          effect: NoSchedule
      containers:
        - name: coredns
          image: registry.k8s.io/coredns/coredns:v1.11.3
          ports:
            - name: dns
              containerPort: 53
              protocol: UDP
            - name: dns-tcp
              containerPort: 53
              protocol: TCP
            - name: metrics
              containerPort: 9153
              protocol: TCP
          livenessProbe:
            httpGet:
              path: /health
              port: 8080
            initialDelaySeconds: 60
            timeoutSeconds: 5
            failureThreshold: 5
          readinessProbe:
            httpGet:
              path: /ready
              port: 8181
`);
  }
  return docs.join('---\n');
}
