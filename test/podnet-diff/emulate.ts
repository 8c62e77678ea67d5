/**
 * The emulator's side of the pod-network differential: the real topology's spec written as a kpath
 * cluster (a Cluster with `spec.network`, the Nodes with their InternalIP and podCIDR, the pods with
 * their IPs), the real devices given the model's MACs and host veth names (so frames agree on every
 * address), and each send traced with `kpath trace --pcap` exactly as a user runs it, the pcapng
 * decoded per interface.
 */
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { bufferIO } from '../../cli/io.js';
import { main } from '../../cli/main.js';
import { buildHostNetwork, hostVethOf } from '../../cni/index.js';
import { buildCluster, type ClusterSnapshot } from '../../netmodel/cluster/index.js';
import { podNsName } from '../../netmodel/kernel/index.js';
import { type DecodedFrame, decodePcapng, framesByInterface } from '../../netmodel/pcap/index.js';
import type { MacScheme, NodeSpec, RealTopologySpec, Send } from './spec.js';
import { podAddress } from './spec.js';

/** The pod network of the kpath cluster (Cluster spec.network). */
export interface ModelNetwork {
  readonly plugin: 'bridge' | 'flannel' | 'calico';
  readonly backend?: 'vxlan' | 'host-gw' | 'bgp';
  readonly mtu?: number;
}

/** The cluster YAML for a real topology spec (no DNS addon: only the spec's pods exist). */
export function clusterYaml(spec: RealTopologySpec, network: ModelNetwork): string {
  const net = [
    `plugin: ${network.plugin}`,
    ...(network.backend ? [`backend: ${network.backend}`] : []),
    ...(network.mtu !== undefined ? [`mtu: ${network.mtu}`] : []),
  ];
  const docs = [
    [
      'apiVersion: kpath.dev/v1alpha1',
      'kind: Cluster',
      'metadata: {name: podnet-diff}',
      'spec:',
      '  podCIDR: 10.244.0.0/16',
      '  serviceCIDR: 10.96.0.0/12',
      '  nodeCIDR: 10.0.0.0/24',
      `  network: {${net.join(', ')}}`,
      '  dns: {addon: false}',
    ].join('\n'),
  ];
  for (const n of spec.nodes) {
    docs.push(
      [
        'apiVersion: v1',
        'kind: Node',
        `metadata: {name: ${n.name}, labels: {kubernetes.io/hostname: ${n.name}}}`,
        `spec: {podCIDR: ${n.podCidr}}`,
        `status: {addresses: [{type: InternalIP, address: ${n.ip}}]}`,
      ].join('\n'),
    );
    for (const p of n.pods)
      docs.push(
        [
          'apiVersion: v1',
          'kind: Pod',
          `metadata: {name: ${p.name}, namespace: ${p.namespace ?? 'default'}}`,
          `spec: {nodeName: ${n.name}, containers: [{name: app, image: app}]}`,
          `status: {phase: Running, podIP: ${podAddress(n, p.name)}}`,
        ].join('\n'),
      );
  }
  return `${docs.join('\n---\n')}\n`;
}

/** A kpath cluster on disk for `kpath trace -f DIR`, and its snapshot. */
export interface ModelCluster {
  readonly dir: string;
  readonly snapshot: ClusterSnapshot;
  remove(): void;
}

export function writeCluster(spec: RealTopologySpec, network: ModelNetwork): ModelCluster {
  const text = clusterYaml(spec, network);
  const r = buildCluster([{ file: 'cluster.yaml', text }]);
  if (!r.ok)
    throw new Error(
      `podnet-diff: the cluster does not build:\n${r.diagnostics.map((d) => d.message).join('\n')}`,
    );
  const dir = mkdtempSync(join(tmpdir(), 'kpath-pd-model-'));
  writeFileSync(join(dir, 'cluster.yaml'), text);
  return { dir, snapshot: r.snapshot, remove: () => rmSync(dir, { recursive: true, force: true }) };
}

/**
 * The spec with every device's MAC and every host veth's name taken from kpath's model of the same
 * cluster (cni/: macOf, vethName or Calico's caliName, the VTEP MAC, cni0 pinned to its first port's
 * MAC, Calico's ee:ee:ee:ee:ee:ee), so the real frames carry the addresses the emulated ones do.
 */
export function alignWithModel(spec: RealTopologySpec, snapshot: ClusterSnapshot): RealTopologySpec {
  const net = buildHostNetwork(snapshot);
  const podOf = (node: NodeSpec, name: string) => {
    const p = node.pods.find((x) => x.name === name)!;
    const pod = snapshot.pod(p.namespace ?? 'default', p.name);
    if (!pod) throw new Error(`podnet-diff: the model has no pod ${p.name}`);
    return pod;
  };
  const macOfDev = (ns: string, dev: string): string => {
    const m = net.ns(ns)?.link(dev)?.mac;
    if (!m) throw new Error(`podnet-diff: the model has no device ${dev} in ${ns}`);
    return m;
  };
  const mac: MacScheme = (ref) => {
    const node = spec.nodes.find((n) => n.name === ref.node)!;
    switch (ref.kind) {
      case 'node-eth0':
        return macOfDev(ref.node, 'eth0');
      case 'cni0':
        return macOfDev(ref.node, 'cni0');
      case 'flannel.1':
        return macOfDev(ref.node, 'flannel.1');
      case 'host-veth':
        return macOfDev(ref.node, hostVethOf(snapshot.config.network, podOf(node, ref.pod)));
      case 'pod-eth0': {
        const pod = podOf(node, ref.pod);
        return macOfDev(podNsName(pod.meta.namespace, pod.meta.name), 'eth0');
      }
    }
  };
  return {
    ...spec,
    mac,
    nodes: spec.nodes.map((n) => ({
      ...n,
      pods: n.pods.map((p) => ({ ...p, hostVeth: hostVethOf(snapshot.config.network, podOf(n, p.name)) })),
    })),
  };
}

export interface EmulatedSend {
  readonly code: number;
  readonly stdout: string;
  readonly stderr: string;
  /** The pcap's frames per interface (empty when the trace wrote no frame). */
  readonly frames: Record<string, DecodedFrame[]>;
}

/**
 * The `kpath trace` arguments for a send: a ping is `--proto icmp --size N --df|--no-df`; TCP and UDP
 * go from kpath's default source port for a pod (43210), which the real sends must use too.
 */
export function traceArgs(spec: RealTopologySpec, s: Send): string[] {
  const pod = (name: string) => {
    const p = spec.nodes.flatMap((n) => n.pods).find((x) => x.name === name)!;
    return `pod/${p.namespace ?? 'default'}/${p.name}`;
  };
  const base = ['--from', pod(s.from)];
  if (s.kind === 'ping')
    return [
      ...base,
      '--to',
      `${pod(s.to)}:0`,
      '--proto',
      'icmp',
      '--size',
      String(s.size),
      s.df ? '--df' : '--no-df',
    ];
  return [
    ...base,
    '--to',
    `${pod(s.to)}:${s.port}`,
    '--proto',
    s.kind,
    ...(s.kind === 'udp' ? ['--size', String(s.bytes)] : []),
  ];
}

/** Runs `kpath trace ... --pcap` for one send and decodes what it wrote. */
export async function emulateSend(
  model: ModelCluster,
  spec: RealTopologySpec,
  s: Send,
): Promise<EmulatedSend> {
  const file = join(model.dir, 'trace.pcapng');
  rmSync(file, { force: true });
  const args = traceArgs(spec, s);
  const io = bufferIO(model.dir);
  const code = await main(['trace', '-f', model.dir, ...args, '--pcap', file], io);
  let frames: Record<string, DecodedFrame[]> = {};
  try {
    frames = framesByInterface(decodePcapng(readFileSync(file)), (n) => n, {
      vxlanPorts: [spec.vxlanPort ?? 8472],
    });
  } catch {
    // No file: the trace wrote no frame (or failed; `code` and stderr say why).
  }
  return { code, stdout: io.stdout(), stderr: io.stderr(), frames };
}
