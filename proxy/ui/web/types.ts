/** The JSON the page reads (shapes from proxy/ui/topology.ts, live.ts, trace.ts). */

export interface TopologyPod {
  namespace: string;
  name: string;
  ip: string | null;
  ready: boolean;
  phase: string;
  hostNetwork: boolean;
}

export interface Topology {
  mode: string;
  version: number;
  podCIDRs: string[];
  serviceCIDRs: string[];
  podNetwork: string;
  nodes: { name: string; ips: string[]; podCIDRs: string[]; ready: boolean; pods: TopologyPod[] }[];
  unscheduled: TopologyPod[];
  services: {
    namespace: string;
    name: string;
    type: string;
    clusterIPs: string[];
    headless: boolean;
    sessionAffinity: string;
    ports: {
      name: string;
      port: number;
      protocol: string;
      targetPort: number | string;
      nodePort: number | null;
      endpoints: { address: string; pod: string | null; node: string | null; ready: boolean }[];
    }[];
  }[];
}

export interface TupleJson {
  src: string;
  dst: string;
  sport: number;
  dport: number;
  packets: number;
  bytes: number;
}

export interface Connection {
  id: number;
  protocol: string;
  state: string;
  original: TupleJson;
  reply: TupleJson | null;
  service: string;
  endpoint: string | null;
  entryNode: string;
  ageSeconds: number;
  timeoutSeconds: number;
}

export interface Denial {
  time: number;
  protocol: string;
  servicePort: string;
  client: string;
  endpoint: string;
  direction: string;
  pod: string;
  policies: string[];
  action: string;
  reason: string;
}

export interface Live {
  mode: string;
  version: number;
  connections: Connection[];
  closing: number;
  perService: Record<string, number>;
  denials: Denial[];
  pods: { pod: string; node: string | null; ready: boolean }[];
  error?: string;
}

export interface StageJson {
  kind: string;
  hook?: string;
  table?: string;
  chains?: { chain: string; meaning: string | null }[];
  rules?: { chain: string; num: number; rule: string }[];
  verdict?: string;
  byPolicy?: boolean;
  nat?: string | null;
  state?: string;
  dir?: string | null;
  created?: boolean;
  note?: string | null;
  manip?: string;
  binding?: string;
  after?: { src: string; dst: string; sport: number; dport: number };
  reason?: string;
  decision?: string;
  dev?: string | null;
  nextHop?: string | null;
  ok?: boolean;
  action?: string;
  destination?: string | null;
  why?: string[];
}

export interface WalkJson {
  verdict: string;
  dnat: string | null;
  snat: string | null;
  masquerade: boolean;
  result: { kind: string; detail: string };
  conntrack: string | null;
  hops: StageJson[];
}

export interface ArrivalJson {
  kind: string;
  text: string;
  pod?: string;
  node?: string;
}

export interface PolicyJson {
  direction?: string;
  allowed?: boolean;
  text?: string;
  [k: string]: unknown;
}

export interface Trace {
  node: string;
  packet: string;
  entry: string;
  total: number;
  note: string | null;
  outcomes: {
    probability: number;
    verdict: string;
    dnat: string | null;
    snat: string | null;
    masquerade: boolean;
    forward: { node: string; walk: WalkJson }[];
    arrived: ArrivalJson | null;
    policy: { egress: PolicyJson | null; ingress: PolicyJson | null };
    reply: { node: string; walk: WalkJson }[];
    replyArrived: ArrivalJson | null;
  }[];
}
