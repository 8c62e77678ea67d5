/**
 * Unknown fields, for fieldValidation=Strict (400 `strict decoding error: unknown field "spec.foo"`)
 * and Warn (a Warning header). The known fields are the Kubernetes v1.32 API types' JSON names, to the
 * depth kpath reads them: object metadata, the pod template and containers, workload and Service
 * specs; deeper structures (probes, affinity, volumes, policy rules, status) are accepted as they are.
 */
import { isPlainObject } from '../../netmodel/cluster/index.js';
import type { ResourceInfo } from './resources.js';

/** A field's schema: ANY accepts anything below; an object lists the known fields. */
type Schema = typeof ANY | { readonly [field: string]: Schema };
const ANY = '*' as const;

function fields(names: string, extra: Record<string, Schema> = {}): Record<string, Schema> {
  const out: Record<string, Schema> = {};
  for (const n of names.split(/\s+/).filter(Boolean)) out[n] = ANY;
  return { ...out, ...extra };
}

const META = fields(
  'name generateName namespace selfLink uid resourceVersion generation creationTimestamp deletionTimestamp deletionGracePeriodSeconds labels annotations ownerReferences finalizers managedFields',
);

const CONTAINER = fields(
  'name image command args workingDir envFrom resources resizePolicy restartPolicy volumeMounts volumeDevices livenessProbe readinessProbe startupProbe lifecycle terminationMessagePath terminationMessagePolicy imagePullPolicy securityContext stdin stdinOnce tty',
  {
    ports: fields('name hostPort containerPort protocol hostIP'),
    env: fields('name value valueFrom'),
  },
);

const POD_SPEC = fields(
  'volumes ephemeralContainers restartPolicy terminationGracePeriodSeconds activeDeadlineSeconds dnsPolicy nodeSelector serviceAccountName serviceAccount automountServiceAccountToken nodeName hostNetwork hostPID hostIPC shareProcessNamespace securityContext imagePullSecrets hostname subdomain affinity schedulerName tolerations hostAliases priorityClassName priority dnsConfig readinessGates runtimeClassName enableServiceLinks preemptionPolicy overhead topologySpreadConstraints setHostnameAsFQDN os hostUsers schedulingGates resourceClaims resources',
  { containers: CONTAINER, initContainers: CONTAINER },
);

const TEMPLATE = { metadata: META, spec: POD_SPEC };

const top = (spec: Schema, more = ''): Schema =>
  fields(`apiVersion kind status ${more}`, { metadata: META, spec });

const SCHEMAS: Record<string, Schema> = {
  Pod: top(POD_SPEC),
  Deployment: top(
    fields('replicas selector strategy minReadySeconds revisionHistoryLimit paused progressDeadlineSeconds', {
      template: TEMPLATE,
    }),
  ),
  ReplicaSet: top(fields('replicas minReadySeconds selector', { template: TEMPLATE })),
  StatefulSet: top(
    fields(
      'replicas selector volumeClaimTemplates serviceName podManagementPolicy updateStrategy revisionHistoryLimit minReadySeconds persistentVolumeClaimRetentionPolicy ordinals',
      { template: TEMPLATE },
    ),
  ),
  DaemonSet: top(
    fields('selector updateStrategy minReadySeconds revisionHistoryLimit', { template: TEMPLATE }),
  ),
  Service: top(
    fields(
      'selector clusterIP clusterIPs type externalIPs sessionAffinity loadBalancerIP loadBalancerSourceRanges externalName externalTrafficPolicy healthCheckNodePort publishNotReadyAddresses sessionAffinityConfig ipFamilies ipFamilyPolicy allocateLoadBalancerNodePorts loadBalancerClass internalTrafficPolicy trafficDistribution',
      { ports: fields('name protocol appProtocol port targetPort nodePort') },
    ),
  ),
  Namespace: top(ANY),
  Node: top(ANY),
  NetworkPolicy: top(ANY),
  EndpointSlice: fields('apiVersion kind addressType endpoints ports', { metadata: META }),
  Endpoints: fields('apiVersion kind subsets', { metadata: META }),
  ConfigMap: fields('apiVersion kind data binaryData immutable', { metadata: META }),
  Event: ANY,
};

function walk(v: unknown, s: Schema, path: string, out: string[]): void {
  if (s === ANY) return;
  if (Array.isArray(v)) {
    for (const [i, x] of v.entries()) walk(x, s, `${path}[${i}]`, out);
    return;
  }
  if (!isPlainObject(v)) return;
  for (const [k, x] of Object.entries(v)) {
    const p = path ? `${path}.${k}` : k;
    const child = s[k];
    if (child === undefined) {
      out.push(p);
      continue;
    }
    walk(x, child, p, out);
  }
}

/** Field paths of `obj` that its kind does not have, in kubectl's notation (`spec.template.spec.containers[0].foo`). */
export function checkUnknownFields(r: ResourceInfo, obj: unknown): string[] {
  const out: string[] = [];
  walk(obj, SCHEMAS[r.kind] ?? ANY, '', out);
  return out;
}
