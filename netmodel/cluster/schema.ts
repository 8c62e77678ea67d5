/**
 * The field sets of the Kubernetes kinds kpath decodes, as the apiserver's OpenAPI schema declares
 * them (k8s.io/api core/v1, apps/v1, discovery/v1 types.go, up to 1.33), so unknown fields can be
 * reported as `kubectl apply` reports them under fieldValidation=Strict. A schema is:
 *   ANY            any value; not descended (maps of free keys, quantities, or types kpath never reads
 *                  whose every field is valid, such as volume sources and affinity terms)
 *   { field: S }   an object with exactly these fields
 *   [S]            a list whose items are S
 * Values kpath ignores are still declared: the whole schema of each kind is accepted.
 */
export type Schema = typeof ANY | { readonly [field: string]: Schema } | readonly [Schema];

export const ANY = '*' as const;

const obj = <T extends Record<string, Schema>>(o: T): T => o;

const ownerReference = obj({
  apiVersion: ANY,
  kind: ANY,
  name: ANY,
  uid: ANY,
  controller: ANY,
  blockOwnerDeletion: ANY,
});

export const OBJECT_META = obj({
  name: ANY,
  generateName: ANY,
  namespace: ANY,
  selfLink: ANY,
  uid: ANY,
  resourceVersion: ANY,
  generation: ANY,
  creationTimestamp: ANY,
  deletionTimestamp: ANY,
  deletionGracePeriodSeconds: ANY,
  labels: ANY,
  annotations: ANY,
  ownerReferences: [ownerReference],
  finalizers: ANY,
  managedFields: ANY,
});

const labelSelector = obj({
  matchLabels: ANY,
  matchExpressions: [obj({ key: ANY, operator: ANY, values: ANY })],
});

const keyRef = obj({ name: ANY, key: ANY, optional: ANY });

const envVar = obj({
  name: ANY,
  value: ANY,
  valueFrom: obj({
    fieldRef: obj({ apiVersion: ANY, fieldPath: ANY }),
    resourceFieldRef: obj({ containerName: ANY, resource: ANY, divisor: ANY }),
    configMapKeyRef: keyRef,
    secretKeyRef: keyRef,
    fileKeyRef: obj({ volumeName: ANY, path: ANY, key: ANY, optional: ANY }),
  }),
});

const envFrom = obj({
  prefix: ANY,
  configMapRef: obj({ name: ANY, optional: ANY }),
  secretRef: obj({ name: ANY, optional: ANY }),
});

const httpGet = obj({
  path: ANY,
  port: ANY,
  host: ANY,
  scheme: ANY,
  httpHeaders: [obj({ name: ANY, value: ANY })],
});
const tcpSocket = obj({ port: ANY, host: ANY });
const exec = obj({ command: ANY });

const probe = obj({
  exec,
  httpGet,
  tcpSocket,
  grpc: obj({ port: ANY, service: ANY }),
  initialDelaySeconds: ANY,
  timeoutSeconds: ANY,
  periodSeconds: ANY,
  successThreshold: ANY,
  failureThreshold: ANY,
  terminationGracePeriodSeconds: ANY,
});

const lifecycleHandler = obj({ exec, httpGet, tcpSocket, sleep: obj({ seconds: ANY }) });

const containerFields = {
  name: ANY,
  image: ANY,
  command: ANY,
  args: ANY,
  workingDir: ANY,
  ports: [obj({ name: ANY, hostPort: ANY, containerPort: ANY, protocol: ANY, hostIP: ANY })],
  envFrom: [envFrom],
  env: [envVar],
  resources: obj({ limits: ANY, requests: ANY, claims: [obj({ name: ANY, request: ANY })] }),
  resizePolicy: [obj({ resourceName: ANY, restartPolicy: ANY })],
  restartPolicy: ANY,
  restartPolicyRules: ANY,
  volumeMounts: [
    obj({
      name: ANY,
      readOnly: ANY,
      recursiveReadOnly: ANY,
      mountPath: ANY,
      subPath: ANY,
      mountPropagation: ANY,
      subPathExpr: ANY,
    }),
  ],
  volumeDevices: [obj({ name: ANY, devicePath: ANY })],
  livenessProbe: probe,
  readinessProbe: probe,
  startupProbe: probe,
  lifecycle: obj({ postStart: lifecycleHandler, preStop: lifecycleHandler, stopSignal: ANY }),
  terminationMessagePath: ANY,
  terminationMessagePolicy: ANY,
  imagePullPolicy: ANY,
  securityContext: obj({
    capabilities: obj({ add: ANY, drop: ANY }),
    privileged: ANY,
    seLinuxOptions: ANY,
    windowsOptions: ANY,
    runAsUser: ANY,
    runAsGroup: ANY,
    runAsNonRoot: ANY,
    readOnlyRootFilesystem: ANY,
    allowPrivilegeEscalation: ANY,
    procMount: ANY,
    seccompProfile: obj({ type: ANY, localhostProfile: ANY }),
    appArmorProfile: obj({ type: ANY, localhostProfile: ANY }),
  }),
  stdin: ANY,
  stdinOnce: ANY,
  tty: ANY,
} as const;

const container = obj(containerFields);
const ephemeralContainer = obj({ ...containerFields, targetContainerName: ANY });

/** Every volume source type; kpath reads none of them, so their insides are not checked. */
const volume = obj({
  name: ANY,
  hostPath: ANY,
  emptyDir: ANY,
  gcePersistentDisk: ANY,
  awsElasticBlockStore: ANY,
  gitRepo: ANY,
  secret: ANY,
  nfs: ANY,
  iscsi: ANY,
  glusterfs: ANY,
  persistentVolumeClaim: ANY,
  rbd: ANY,
  flexVolume: ANY,
  cinder: ANY,
  cephfs: ANY,
  flocker: ANY,
  downwardAPI: ANY,
  fc: ANY,
  azureFile: ANY,
  configMap: ANY,
  vsphereVolume: ANY,
  quobyte: ANY,
  azureDisk: ANY,
  photonPersistentDisk: ANY,
  projected: ANY,
  portworxVolume: ANY,
  scaleIO: ANY,
  storageos: ANY,
  csi: ANY,
  ephemeral: ANY,
  image: ANY,
});

const toleration = obj({ key: ANY, operator: ANY, value: ANY, effect: ANY, tolerationSeconds: ANY });

export const POD_SPEC = obj({
  volumes: [volume],
  initContainers: [container],
  containers: [container],
  ephemeralContainers: [ephemeralContainer],
  restartPolicy: ANY,
  terminationGracePeriodSeconds: ANY,
  activeDeadlineSeconds: ANY,
  dnsPolicy: ANY,
  nodeSelector: ANY,
  serviceAccountName: ANY,
  serviceAccount: ANY,
  automountServiceAccountToken: ANY,
  nodeName: ANY,
  hostNetwork: ANY,
  hostPID: ANY,
  hostIPC: ANY,
  shareProcessNamespace: ANY,
  securityContext: obj({
    seLinuxOptions: ANY,
    windowsOptions: ANY,
    runAsUser: ANY,
    runAsGroup: ANY,
    runAsNonRoot: ANY,
    supplementalGroups: ANY,
    supplementalGroupsPolicy: ANY,
    fsGroup: ANY,
    sysctls: [obj({ name: ANY, value: ANY })],
    fsGroupChangePolicy: ANY,
    seccompProfile: obj({ type: ANY, localhostProfile: ANY }),
    appArmorProfile: obj({ type: ANY, localhostProfile: ANY }),
    seLinuxChangePolicy: ANY,
  }),
  imagePullSecrets: [obj({ name: ANY })],
  hostname: ANY,
  subdomain: ANY,
  affinity: obj({ nodeAffinity: ANY, podAffinity: ANY, podAntiAffinity: ANY }),
  schedulerName: ANY,
  tolerations: [toleration],
  hostAliases: [obj({ ip: ANY, hostnames: ANY })],
  priorityClassName: ANY,
  priority: ANY,
  dnsConfig: obj({ nameservers: ANY, searches: ANY, options: [obj({ name: ANY, value: ANY })] }),
  readinessGates: [obj({ conditionType: ANY })],
  runtimeClassName: ANY,
  enableServiceLinks: ANY,
  preemptionPolicy: ANY,
  overhead: ANY,
  topologySpreadConstraints: [
    obj({
      maxSkew: ANY,
      topologyKey: ANY,
      whenUnsatisfiable: ANY,
      labelSelector,
      minDomains: ANY,
      nodeAffinityPolicy: ANY,
      nodeTaintsPolicy: ANY,
      matchLabelKeys: ANY,
    }),
  ],
  setHostnameAsFQDN: ANY,
  os: obj({ name: ANY }),
  hostUsers: ANY,
  schedulingGates: [obj({ name: ANY })],
  resourceClaims: [obj({ name: ANY, resourceClaimName: ANY, resourceClaimTemplateName: ANY })],
  resources: obj({ limits: ANY, requests: ANY, claims: ANY }),
  hostnameOverride: ANY,
});

const podTemplate = obj({ metadata: OBJECT_META, spec: POD_SPEC });

/** Fields every object has; `status` is written by controllers and not checked. */
const top = <T extends Record<string, Schema>>(rest: T) =>
  obj({ apiVersion: ANY, kind: ANY, metadata: OBJECT_META, status: ANY, ...rest });

const objectRef = obj({
  kind: ANY,
  namespace: ANY,
  name: ANY,
  uid: ANY,
  apiVersion: ANY,
  resourceVersion: ANY,
  fieldPath: ANY,
});

const endpointAddress = obj({ ip: ANY, hostname: ANY, nodeName: ANY, targetRef: objectRef });
const endpointPort = obj({ name: ANY, port: ANY, protocol: ANY, appProtocol: ANY });

/** Kind -> its schema, for the kinds kpath decodes (NetworkPolicy is checked by its own decoder). */
export const KIND_SCHEMAS: Readonly<Record<string, Schema>> = {
  Namespace: top({ spec: obj({ finalizers: ANY }) }),
  Node: top({
    spec: obj({
      podCIDR: ANY,
      podCIDRs: ANY,
      providerID: ANY,
      unschedulable: ANY,
      taints: [obj({ key: ANY, value: ANY, effect: ANY, timeAdded: ANY })],
      configSource: ANY,
      externalID: ANY,
    }),
  }),
  Pod: top({ spec: POD_SPEC }),
  Service: top({
    spec: obj({
      ports: [obj({ name: ANY, protocol: ANY, appProtocol: ANY, port: ANY, targetPort: ANY, nodePort: ANY })],
      selector: ANY,
      clusterIP: ANY,
      clusterIPs: ANY,
      type: ANY,
      externalIPs: ANY,
      sessionAffinity: ANY,
      loadBalancerIP: ANY,
      loadBalancerSourceRanges: ANY,
      externalName: ANY,
      externalTrafficPolicy: ANY,
      healthCheckNodePort: ANY,
      publishNotReadyAddresses: ANY,
      sessionAffinityConfig: obj({ clientIP: obj({ timeoutSeconds: ANY }) }),
      ipFamilies: ANY,
      ipFamilyPolicy: ANY,
      allocateLoadBalancerNodePorts: ANY,
      loadBalancerClass: ANY,
      internalTrafficPolicy: ANY,
      trafficDistribution: ANY,
    }),
  }),
  Endpoints: top({
    subsets: [
      obj({ addresses: [endpointAddress], notReadyAddresses: [endpointAddress], ports: [endpointPort] }),
    ],
  }),
  EndpointSlice: top({
    addressType: ANY,
    endpoints: [
      obj({
        addresses: ANY,
        conditions: obj({ ready: ANY, serving: ANY, terminating: ANY }),
        hostname: ANY,
        targetRef: objectRef,
        nodeName: ANY,
        zone: ANY,
        hints: obj({ forZones: [obj({ name: ANY })], forNodes: [obj({ name: ANY })] }),
        deprecatedTopology: ANY,
      }),
    ],
    ports: [endpointPort],
  }),
  Deployment: top({
    spec: obj({
      replicas: ANY,
      selector: labelSelector,
      template: podTemplate,
      strategy: obj({ type: ANY, rollingUpdate: obj({ maxUnavailable: ANY, maxSurge: ANY }) }),
      minReadySeconds: ANY,
      revisionHistoryLimit: ANY,
      paused: ANY,
      progressDeadlineSeconds: ANY,
    }),
  }),
  ReplicaSet: top({
    spec: obj({ replicas: ANY, minReadySeconds: ANY, selector: labelSelector, template: podTemplate }),
  }),
  StatefulSet: top({
    spec: obj({
      replicas: ANY,
      selector: labelSelector,
      template: podTemplate,
      volumeClaimTemplates: ANY,
      serviceName: ANY,
      podManagementPolicy: ANY,
      updateStrategy: obj({ type: ANY, rollingUpdate: obj({ partition: ANY, maxUnavailable: ANY }) }),
      revisionHistoryLimit: ANY,
      minReadySeconds: ANY,
      persistentVolumeClaimRetentionPolicy: obj({ whenDeleted: ANY, whenScaled: ANY }),
      ordinals: obj({ start: ANY }),
    }),
  }),
  DaemonSet: top({
    spec: obj({
      selector: labelSelector,
      template: podTemplate,
      updateStrategy: obj({ type: ANY, rollingUpdate: obj({ maxUnavailable: ANY, maxSurge: ANY }) }),
      minReadySeconds: ANY,
      revisionHistoryLimit: ANY,
    }),
  }),
};

/**
 * kube-proxy's configuration file (kubeproxy.config.k8s.io/v1alpha1 KubeProxyConfiguration, 1.33),
 * which kube-proxy itself decodes strictly. It has no ObjectMeta; `metadata` is tolerated.
 */
export const KUBE_PROXY_CONFIGURATION: Schema = obj({
  apiVersion: ANY,
  kind: ANY,
  metadata: ANY,
  featureGates: ANY,
  clientConnection: obj({ kubeconfig: ANY, acceptContentTypes: ANY, contentType: ANY, qps: ANY, burst: ANY }),
  logging: ANY,
  hostnameOverride: ANY,
  bindAddress: ANY,
  healthzBindAddress: ANY,
  metricsBindAddress: ANY,
  bindAddressHardFail: ANY,
  enableProfiling: ANY,
  showHiddenMetricsForVersion: ANY,
  mode: ANY,
  iptables: obj({
    masqueradeBit: ANY,
    masqueradeAll: ANY,
    localhostNodePorts: ANY,
    syncPeriod: ANY,
    minSyncPeriod: ANY,
  }),
  ipvs: obj({
    syncPeriod: ANY,
    minSyncPeriod: ANY,
    scheduler: ANY,
    excludeCIDRs: ANY,
    strictARP: ANY,
    tcpTimeout: ANY,
    tcpFinTimeout: ANY,
    udpTimeout: ANY,
  }),
  nftables: obj({ masqueradeBit: ANY, masqueradeAll: ANY, syncPeriod: ANY, minSyncPeriod: ANY }),
  winkernel: ANY,
  detectLocalMode: ANY,
  detectLocal: obj({ bridgeInterface: ANY, interfaceNamePrefix: ANY }),
  clusterCIDR: ANY,
  nodePortAddresses: ANY,
  oomScoreAdj: ANY,
  conntrack: obj({
    maxPerCore: ANY,
    min: ANY,
    tcpEstablishedTimeout: ANY,
    tcpCloseWaitTimeout: ANY,
    tcpBeLiberal: ANY,
    udpTimeout: ANY,
    udpStreamTimeout: ANY,
  }),
  configSyncPeriod: ANY,
  portRange: ANY,
  windowsRunAsService: ANY,
  syncPeriod: ANY,
  minSyncPeriod: ANY,
});
