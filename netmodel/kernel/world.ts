/**
 * The namespaces of an emulated cluster and how their devices join: what the device walker needs to
 * move a frame from one namespace to the next. Nodes are named after the Node; pods are
 * `pod/NAMESPACE/NAME` (the pcap interface of a pod's eth0 is `pod/NS/NAME/eth0`).
 */
import type { KernelNode } from './node.js';

export interface Attachment {
  readonly ns: string;
  readonly dev: string;
}

export interface NetWorld {
  /** The namespace of this name, if it exists. */
  ns(name: string): KernelNode | undefined;
  /** The devices on one L2 segment (the nodes' uplinks on the underlay). */
  segment(name: string): readonly Attachment[];
}

/** The namespace name of a pod. */
export function podNsName(namespace: string, name: string): string {
  return `pod/${namespace}/${name}`;
}

/** The pod a namespace name belongs to (`ns/name`), if it is a pod's. */
export function podOfNs(ns: string): string | undefined {
  return ns.startsWith('pod/') ? ns.slice(4) : undefined;
}
