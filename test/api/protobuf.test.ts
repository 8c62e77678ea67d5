/**
 * Protobuf request bodies (application/vnd.kubernetes.protobuf), decoded to the JSON object the same
 * request in JSON carries.
 *
 * fixtures/protobuf/NAME.pb is the body the real kubectl (v1.32) sent for a `kubectl create ...
 * --dry-run=server` (recorded by test/api/capture.ts), NAME.json what the same command prints with
 * `--dry-run=client -o json`, i.e. what kubectl would have sent as JSON: they must be equal.
 *
 * The other bodies are encoded here by hand, field numbers from k8s.io/api's generated.proto
 * (core/v1, apps/v1, discovery/v1, networking/v1, autoscaling/v1) and apimachinery's
 * (pkg/apis/meta/v1, pkg/runtime, pkg/util/intstr, pkg/api/resource); the expected JSON follows the
 * json tags of the same types.go (omitempty, pointers) as encoding/json writes them.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { decodeProtobufBody } from '../../proxy/api/protobuf/index.js';
import { ApiError } from '../../proxy/api/status.js';
import {
  bool,
  bytes,
  entry,
  envelope,
  int,
  intOrStr,
  key,
  MAGIC,
  msg,
  qty,
  strEntry,
  time,
  varint,
} from './pb-writer.js';

const FIXTURES = join(import.meta.dirname, 'fixtures', 'protobuf');

/** The kubectl commands behind the fixtures (each also with --dry-run=server / --dry-run=client -o json). */
const CAPTURED: Record<string, string> = {
  namespace: 'kubectl create namespace foo',
  deployment: 'kubectl create deployment web2 --image=nginx --port=8080 --replicas=2',
  'deployment-two': 'kubectl create deployment pair --image=nginx:1.27 --image=busybox',
  'deployment-command': 'kubectl create deployment sleeper --image=busybox -- sleep 3600',
  'service-clusterip': 'kubectl create service clusterip s2 --tcp=80:80 --tcp=443:8443',
  'service-headless': 'kubectl create service clusterip headless --clusterip=None',
  'service-nodeport': 'kubectl create service nodeport s3 --tcp=80:8080 --node-port=33705',
  'service-loadbalancer': 'kubectl create service loadbalancer lb --tcp=5678:8080',
  'service-externalname': 'kubectl create service externalname ext --external-name=example.com',
  configmap: 'kubectl create configmap cm1 --from-literal=a=b --from-literal=c=d',
  'configmap-files': 'kubectl create configmap cm2 --from-file=blob.bin --from-file=greeting.txt',
};

const CORE = { group: '', version: 'v1' };
const decode = (body: Buffer, kind: string, gv = CORE) => decodeProtobufBody(body, { ...gv, kind });

function refusal(fn: () => unknown): { code: number; reason: string; message: string } {
  try {
    fn();
  } catch (e) {
    if (e instanceof ApiError) return { code: e.code, reason: e.reason, message: e.message };
    throw e;
  }
  throw new Error('no error');
}

describe('bodies the real kubectl sends', () => {
  const names = readdirSync(FIXTURES)
    .filter((f) => f.endsWith('.pb'))
    .map((f) => f.slice(0, -3));

  it('every fixture is one of the recorded commands', () => {
    expect(names.sort()).toEqual(Object.keys(CAPTURED).sort());
  });

  it.each(Object.keys(CAPTURED))('%s decodes to the JSON kubectl sends for the same command', (name) => {
    const want = JSON.parse(readFileSync(join(FIXTURES, `${name}.json`), 'utf8'));
    const [group, version] = String(want.apiVersion).includes('/')
      ? String(want.apiVersion).split('/')
      : ['', String(want.apiVersion)];
    const got = decode(readFileSync(join(FIXTURES, `${name}.pb`)), want.kind, {
      group: group!,
      version: version!,
    });
    expect(got).toStrictEqual(want);
  });
});

describe('the whole schema of each kind', () => {
  it('a Pod: volumes (inlined VolumeSource), probes, env, resources, securityContext, affinity, tolerations', () => {
    const container = Buffer.concat([
      bytes(1, 'app'),
      bytes(2, 'nginx'),
      bytes(3, 'sh'),
      bytes(3, '-c'),
      msg(6, bytes(1, 'http'), int(3, 8080), bytes(4, 'TCP')),
      msg(7, bytes(1, 'POD_IP'), msg(3, msg(1, bytes(1, 'v1'), bytes(2, 'status.podIP')))),
      msg(
        8,
        entry(1, 'cpu', qty(2, '500m')),
        entry(1, 'memory', qty(2, '128Mi')),
        entry(2, 'cpu', qty(2, '250m')),
      ),
      msg(9, bytes(1, 'cfg'), bytes(3, '/etc/app'), bool(2, true)),
      msg(10, msg(1, msg(2, bytes(1, '/healthz'), intOrStr(2, 'http'))), int(2, -1), int(4, 5)),
      msg(11, msg(1, msg(3, intOrStr(1, 8080)))),
      msg(15, msg(1, bytes(1, 'NET_ADMIN')), int(4, 1000), bool(5, true)),
      bytes(14, 'IfNotPresent'),
    ]);
    const spec = Buffer.concat([
      msg(
        1,
        bytes(1, 'cfg'),
        msg(
          2,
          msg(19, msg(1, bytes(1, 'app-config')), msg(2, bytes(1, 'a'), bytes(2, 'a.conf')), int(3, 420)),
        ),
      ),
      msg(1, bytes(1, 'scratch'), msg(2, msg(2, bytes(1, 'Memory'), qty(2, '1Gi')))),
      msg(2, container),
      bytes(3, 'Always'),
      int(4, 30),
      strEntry(7, 'disk', 'ssd'),
      bool(11, false),
      bool(21, false),
      msg(14, int(2, 1000), int(4, 1), int(4, 2), int(5, 2000)),
      msg(18, msg(1, msg(1, msg(1, msg(1, bytes(1, 'zone'), bytes(2, 'In'), bytes(3, 'a'), bytes(3, 'b')))))),
      msg(
        22,
        bytes(1, 'node.kubernetes.io/unreachable'),
        bytes(2, 'Exists'),
        bytes(4, 'NoExecute'),
        int(5, 300),
      ),
      msg(33, int(1, 1), bytes(2, 'zone'), bytes(3, 'DoNotSchedule'), msg(4, strEntry(1, 'app', 'web'))),
    ]);
    const meta = Buffer.concat([
      bytes(1, 'web-0'),
      strEntry(11, 'app', 'web'),
      strEntry(11, 'tier', 'front'),
      msg(
        13,
        bytes(5, 'apps/v1'),
        bytes(1, 'ReplicaSet'),
        bytes(3, 'web-abc'),
        bytes(4, 'u-1'),
        bool(6, true),
      ),
      msg(
        17,
        bytes(1, 'kubectl'),
        bytes(2, 'Update'),
        bytes(3, 'v1'),
        time(4, 1_700_000_000),
        bytes(6, 'FieldsV1'),
        msg(7, bytes(1, '{"f:metadata":{}}')),
      ),
      msg(8),
    ]);
    const pod = decode(envelope('v1', 'Pod', msg(1, meta), msg(2, spec)), 'Pod');
    expect(pod).toStrictEqual({
      kind: 'Pod',
      apiVersion: 'v1',
      metadata: {
        name: 'web-0',
        creationTimestamp: null,
        labels: { app: 'web', tier: 'front' },
        ownerReferences: [
          { apiVersion: 'apps/v1', kind: 'ReplicaSet', name: 'web-abc', uid: 'u-1', controller: true },
        ],
        managedFields: [
          {
            manager: 'kubectl',
            operation: 'Update',
            apiVersion: 'v1',
            time: '2023-11-14T22:13:20Z',
            fieldsType: 'FieldsV1',
            fieldsV1: { 'f:metadata': {} },
          },
        ],
      },
      spec: {
        volumes: [
          {
            name: 'cfg',
            configMap: { name: 'app-config', items: [{ key: 'a', path: 'a.conf' }], defaultMode: 420 },
          },
          { name: 'scratch', emptyDir: { medium: 'Memory', sizeLimit: '1Gi' } },
        ],
        containers: [
          {
            name: 'app',
            image: 'nginx',
            command: ['sh', '-c'],
            ports: [{ name: 'http', containerPort: 8080, protocol: 'TCP' }],
            env: [
              { name: 'POD_IP', valueFrom: { fieldRef: { apiVersion: 'v1', fieldPath: 'status.podIP' } } },
            ],
            resources: { limits: { cpu: '500m', memory: '128Mi' }, requests: { cpu: '250m' } },
            volumeMounts: [{ name: 'cfg', readOnly: true, mountPath: '/etc/app' }],
            livenessProbe: {
              httpGet: { path: '/healthz', port: 'http' },
              initialDelaySeconds: -1,
              periodSeconds: 5,
            },
            readinessProbe: { tcpSocket: { port: 8080 } },
            imagePullPolicy: 'IfNotPresent',
            securityContext: { capabilities: { add: ['NET_ADMIN'] }, runAsUser: 1000, runAsNonRoot: true },
          },
        ],
        restartPolicy: 'Always',
        terminationGracePeriodSeconds: 30,
        nodeSelector: { disk: 'ssd' },
        // a *bool keeps false; hostNetwork (bool, omitempty) drops it
        automountServiceAccountToken: false,
        securityContext: { runAsUser: 1000, supplementalGroups: [1, 2], fsGroup: 2000 },
        affinity: {
          nodeAffinity: {
            requiredDuringSchedulingIgnoredDuringExecution: {
              nodeSelectorTerms: [
                { matchExpressions: [{ key: 'zone', operator: 'In', values: ['a', 'b'] }] },
              ],
            },
          },
        },
        tolerations: [
          {
            key: 'node.kubernetes.io/unreachable',
            operator: 'Exists',
            effect: 'NoExecute',
            tolerationSeconds: 300,
          },
        ],
        topologySpreadConstraints: [
          {
            maxSkew: 1,
            topologyKey: 'zone',
            whenUnsatisfiable: 'DoNotSchedule',
            labelSelector: { matchLabels: { app: 'web' } },
          },
        ],
      },
      status: {},
    });
  });

  it('a StatefulSet and a DaemonSet: *int32 replicas 0 kept, IntOrString percentages, update strategies', () => {
    // PodTemplateSpec: StatefulSetSpec.template = 3, DaemonSetSpec.template = 2
    const template = (num: number) =>
      msg(num, msg(1, strEntry(11, 'app', 'db')), msg(2, msg(2, bytes(1, 'db'), bytes(2, 'postgres'))));
    const sts = decode(
      envelope(
        'apps/v1',
        'StatefulSet',
        msg(1, bytes(1, 'db')),
        msg(
          2,
          int(1, 0),
          msg(2, strEntry(1, 'app', 'db')),
          template(3),
          bytes(5, 'db'),
          bytes(6, 'Parallel'),
          msg(7, bytes(1, 'RollingUpdate'), msg(2, int(1, 1), intOrStr(2, '50%'))),
        ),
      ),
      'StatefulSet',
      { group: 'apps', version: 'v1' },
    );
    expect(sts.spec).toStrictEqual({
      replicas: 0,
      selector: { matchLabels: { app: 'db' } },
      template: {
        metadata: { creationTimestamp: null, labels: { app: 'db' } },
        spec: { containers: [{ name: 'db', image: 'postgres', resources: {} }] },
      },
      serviceName: 'db',
      podManagementPolicy: 'Parallel',
      updateStrategy: { type: 'RollingUpdate', rollingUpdate: { partition: 1, maxUnavailable: '50%' } },
    });
    expect(sts.status).toStrictEqual({ replicas: 0, availableReplicas: 0 });
    const ds = decode(
      envelope(
        'apps/v1',
        'DaemonSet',
        msg(1, bytes(1, 'agent')),
        msg(
          2,
          msg(1, strEntry(1, 'app', 'db')),
          template(2),
          msg(3, bytes(1, 'RollingUpdate'), msg(2, intOrStr(1, 0), intOrStr(2, 1))),
        ),
      ),
      'DaemonSet',
      { group: 'apps', version: 'v1' },
    );
    expect((ds.spec as Record<string, unknown>).updateStrategy).toStrictEqual({
      type: 'RollingUpdate',
      rollingUpdate: { maxUnavailable: 0, maxSurge: 1 },
    });
    expect(ds.status).toStrictEqual({
      currentNumberScheduled: 0,
      numberMisscheduled: 0,
      desiredNumberScheduled: 0,
      numberReady: 0,
    });
  });

  it('an EndpointSlice, Endpoints and a NetworkPolicy', () => {
    const slice = decode(
      envelope(
        'discovery.k8s.io/v1',
        'EndpointSlice',
        msg(1, bytes(1, 'web-x')),
        msg(
          2,
          bytes(1, '10.1.0.5'),
          msg(2, bool(1, true), bool(2, false)),
          bytes(6, 'n1'),
          bytes(7, 'z1'),
          msg(8, msg(1, bytes(1, 'z1'))),
        ),
        msg(3, bytes(1, 'http'), bytes(2, 'TCP'), int(3, 8080)),
        bytes(4, 'IPv4'),
      ),
      'EndpointSlice',
      { group: 'discovery.k8s.io', version: 'v1' },
    );
    expect(slice).toStrictEqual({
      kind: 'EndpointSlice',
      apiVersion: 'discovery.k8s.io/v1',
      metadata: { name: 'web-x', creationTimestamp: null },
      addressType: 'IPv4',
      endpoints: [
        {
          addresses: ['10.1.0.5'],
          conditions: { ready: true, serving: false },
          nodeName: 'n1',
          zone: 'z1',
          hints: { forZones: [{ name: 'z1' }] },
        },
      ],
      ports: [{ name: 'http', protocol: 'TCP', port: 8080 }],
    });
    const ep = decode(
      envelope(
        'v1',
        'Endpoints',
        msg(1, bytes(1, 'web')),
        msg(2, msg(1, bytes(1, '10.1.0.5'), bytes(4, 'n1')), msg(3, int(2, 8080))),
      ),
      'Endpoints',
    );
    expect(ep.subsets).toStrictEqual([
      { addresses: [{ ip: '10.1.0.5', nodeName: 'n1' }], ports: [{ port: 8080 }] },
    ]);
    const np = decode(
      envelope(
        'networking.k8s.io/v1',
        'NetworkPolicy',
        msg(1, bytes(1, 'deny')),
        msg(
          2,
          msg(1),
          msg(
            2,
            msg(1, bytes(1, 'TCP'), intOrStr(2, 80), int(3, 90)),
            msg(2, msg(3, bytes(1, '10.0.0.0/8'), bytes(2, '10.1.0.0/16'))),
          ),
          bytes(4, 'Ingress'),
        ),
      ),
      'NetworkPolicy',
      { group: 'networking.k8s.io', version: 'v1' },
    );
    expect(np.spec).toStrictEqual({
      podSelector: {},
      ingress: [
        {
          ports: [{ protocol: 'TCP', port: 80, endPort: 90 }],
          from: [{ ipBlock: { cidr: '10.0.0.0/8', except: ['10.1.0.0/16'] } }],
        },
      ],
      policyTypes: ['Ingress'],
    });
  });

  it('Scale (autoscaling/v1), DeleteOptions, and an Event with a MicroTime', () => {
    expect(
      decode(envelope('autoscaling/v1', 'Scale', msg(1, bytes(1, 'web')), msg(2, int(1, 3))), 'Scale', {
        group: 'autoscaling',
        version: 'v1',
      }),
    ).toStrictEqual({
      kind: 'Scale',
      apiVersion: 'autoscaling/v1',
      metadata: { name: 'web', creationTimestamp: null },
      spec: { replicas: 3 },
      status: { replicas: 0 },
    });
    const del = envelope(
      'meta.k8s.io/v1',
      'DeleteOptions',
      int(1, 0),
      msg(2, bytes(1, 'u-1'), bytes(2, '7')),
      bytes(4, 'Foreground'),
    );
    expect(decode(del, 'DeleteOptions', { group: 'apps', version: 'v1' })).toStrictEqual({
      kind: 'DeleteOptions',
      apiVersion: 'meta.k8s.io/v1',
      gracePeriodSeconds: 0,
      preconditions: { uid: 'u-1', resourceVersion: '7' },
      propagationPolicy: 'Foreground',
    });
    const ev = decode(
      envelope(
        'v1',
        'Event',
        msg(1, bytes(1, 'e1')),
        time(6, 1_700_000_000),
        time(10, 1_700_000_000, 123_456_789),
      ),
      'Event',
    );
    expect(ev.firstTimestamp).toBe('2023-11-14T22:13:20Z');
    expect(ev.lastTimestamp).toBeNull();
    expect(ev.eventTime).toBe('2023-11-14T22:13:20.123456Z');
  });
});

describe('the wire format as the generated decoders read it', () => {
  const svc = (...meta: Buffer[]) => envelope('v1', 'Service', msg(1, ...meta));

  it('skips fields it does not know, of every wire type, in the envelope and inside objects', () => {
    const unknown = Buffer.concat([
      int(99, 7),
      Buffer.from([...key(98, 1), 1, 2, 3, 4, 5, 6, 7, 8]),
      Buffer.from([...key(97, 5), 1, 2, 3, 4]),
      bytes(96, 'x'),
      Buffer.from([...key(95, 3), ...key(1, 0), 5, ...key(95, 4)]),
    ]);
    const body = Buffer.concat([
      MAGIC,
      unknown,
      msg(1, bytes(1, 'v1'), bytes(2, 'Service')),
      bytes(2, Buffer.concat([msg(1, bytes(1, 'a'), unknown)])),
    ]);
    expect(decode(body, 'Service').metadata).toStrictEqual({ name: 'a', creationTimestamp: null });
  });

  it('merges a struct sent twice, keeps the last scalar and map value', () => {
    const m = decode(svc(bytes(1, 'a'), strEntry(11, 'k', '1')), 'Service');
    expect(m.metadata).toStrictEqual({ name: 'a', creationTimestamp: null, labels: { k: '1' } });
    const body = envelope(
      'v1',
      'Service',
      msg(1, bytes(1, 'a'), strEntry(11, 'k', '1')),
      msg(1, bytes(1, 'b'), strEntry(11, 'k', '2'), strEntry(11, 'j', '3')),
    );
    expect(decode(body, 'Service').metadata).toStrictEqual({
      name: 'b',
      creationTimestamp: null,
      labels: { k: '2', j: '3' },
    });
  });

  it('reads packed repeated integers as well as unpacked ones, and negative int64s', () => {
    const podSec = (...f: Buffer[]) =>
      decode(envelope('v1', 'Pod', msg(2, msg(14, ...f))), 'Pod').spec as Record<
        string,
        Record<string, unknown>
      >;
    const bodyPacked = Buffer.from([...key(4, 2), 4, ...varint(1), ...varint(2), ...varint(300)]);
    expect(podSec(bodyPacked).securityContext).toStrictEqual({ supplementalGroups: [1, 2, 300] });
    expect(podSec(int(4, 1), int(4, -5)).securityContext).toStrictEqual({ supplementalGroups: [1, -5] });
  });

  it('a zero creationTimestamp (Go zero time) and an empty one are null; the epoch is a time', () => {
    expect(
      (decode(svc(bytes(1, 'a'), time(8, -62135596800)), 'Service').metadata as Record<string, unknown>)
        .creationTimestamp,
    ).toBeNull();
    expect(
      (decode(svc(bytes(1, 'a'), msg(8)), 'Service').metadata as Record<string, unknown>).creationTimestamp,
    ).toBeNull();
    expect(
      (decode(svc(bytes(1, 'a'), time(8, 0)), 'Service').metadata as Record<string, unknown>)
        .creationTimestamp,
    ).toBe('1970-01-01T00:00:00Z');
  });

  it('takes kind and apiVersion from the URL when the envelope leaves them out', () => {
    const body = Buffer.concat([MAGIC, bytes(2, msg(1, bytes(1, 'x')))]);
    expect(decode(body, 'ConfigMap')).toStrictEqual({
      kind: 'ConfigMap',
      apiVersion: 'v1',
      metadata: { name: 'x', creationTimestamp: null },
    });
  });
});

describe('bodies the apiserver refuses, with its 400s', () => {
  const svcBody = envelope('v1', 'Service', msg(1, bytes(1, 'a')));
  const cases: [string, () => unknown, string][] = [
    [
      'an empty body',
      () => decode(Buffer.alloc(0), 'Service'),
      'the object provided is unrecognized (must be of type Service): empty data (<empty>)',
    ],
    [
      'JSON sent as protobuf',
      () => decode(Buffer.from('{"kind":"Service","apiVersion":"v1","metadata":{"name":"a"}}'), 'Service'),
      'the object provided is unrecognized (must be of type Service): provided data does not appear to be a protobuf message, expected prefix [107 56 115 0] ({"kind":"Service","apiVersion" ...)',
    ],
    [
      'the magic alone',
      () => decode(MAGIC, 'Namespace'),
      'the object provided is unrecognized (must be of type Namespace): empty body (6b387300)',
    ],
    [
      'a truncated envelope',
      () => decode(svcBody.subarray(0, 12), 'Service'),
      `the object provided is unrecognized (must be of type Service): unexpected EOF (${svcBody.subarray(0, 12).toString('hex')})`,
    ],
    [
      'field number 0',
      () => decode(Buffer.concat([MAGIC, Buffer.from([0, 0])]), 'Service'),
      'the object provided is unrecognized (must be of type Service): proto: Unknown: illegal tag 0 (wire type 0) (6b3873000000)',
    ],
    [
      'a truncated object',
      () => decode(envelope('v1', 'Service', Buffer.from([0x0a, 0x05, 0x0a])), 'Service'),
      'Service in version "v1" cannot be handled as a Service: unexpected EOF',
    ],
    [
      'a name sent as a varint',
      () => decode(envelope('v1', 'Service', msg(1, int(1, 5))), 'Service'),
      'Service in version "v1" cannot be handled as a Service: proto: wrong wireType = 0 for field Name',
    ],
    [
      'a Pod posted to services',
      () => decode(envelope('v1', 'Pod', msg(1, bytes(1, 'a'))), 'Service'),
      'Pod in version "v1" cannot be handled as a Service: converting (v1.Pod) to (core.Service): unknown conversion',
    ],
    [
      'a Deployment posted to replicasets',
      () => decode(envelope('apps/v1', 'Deployment'), 'ReplicaSet', { group: 'apps', version: 'v1' }),
      'Deployment in version "v1" cannot be handled as a ReplicaSet: converting (v1.Deployment) to (apps.ReplicaSet): unknown conversion',
    ],
    [
      'a kind no group has',
      () => decode(envelope('v1', 'pod'), 'Pod'),
      'pod in version "v1" cannot be handled as a Pod: no kind "pod" is registered for version "v1" in scheme "pkg/api/legacyscheme/scheme.go:30"',
    ],
    [
      'another version of the kind',
      () => decode(envelope('apps/v1beta2', 'Deployment'), 'Deployment', { group: 'apps', version: 'v1' }),
      'the API version in the data (apps/v1beta2) does not match the expected API version (apps/v1)',
    ],
  ];
  it.each(cases)('%s', (_what, fn, message) => {
    expect(refusal(fn)).toStrictEqual({ code: 400, reason: 'BadRequest', message });
  });
});
