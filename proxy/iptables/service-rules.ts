/**
 * The rules of one service port, exactly as kube-proxy's iptables proxier (syncProxyRules, ~v1.31)
 * writes them, split into what every sync rewrites (filter rules, and the nat KUBE-SERVICES and
 * KUBE-NODEPORTS entries) and what a partial sync may skip (the SVC/SVL/EXT/FW/SEP chains).
 */
import { prefixContains } from '../../netmodel/addr.js';
import type { EndpointCategories } from '../../netmodel/service/categorize.js';
import type { EndpointView, ServicePortView } from '../../netmodel/service/ports.js';
import type { NodeContext } from './context.js';
import { chainHashOf, probability } from './names.js';

export interface ServicePortRules {
  readonly view: ServicePortView;
  readonly categories: EndpointCategories;
  /** Lines appended to the filter table (KUBE-SERVICES, KUBE-EXTERNAL-SERVICES, KUBE-PROXY-FIREWALL, KUBE-NODEPORTS). */
  readonly filterRules: readonly string[];
  /** nat KUBE-SERVICES and KUBE-NODEPORTS lines: written on every sync. */
  readonly natEntryRules: readonly string[];
  /** The per-service nat chains this port owns, in the order kube-proxy declares them. */
  readonly natChains: readonly string[];
  /** The rules of those chains: skipped by a partial sync when the service did not change. */
  readonly natChainRules: readonly string[];
  /** The same four blocks as newline-terminated text, ready to concatenate into a payload. */
  readonly text: {
    readonly filter: string;
    readonly entry: string;
    readonly chains: string;
    readonly rules: string;
  };
}

const block = (lines: readonly string[]) => (lines.length ? `${lines.join('\n')}\n` : '');

/** The lines of a newline-terminated block. */
const linesOf = (text: string): string[] => (text ? text.slice(0, -1).split('\n') : []);

/**
 * The rules keep only their text; the per-line arrays are split from it on first use (a full sync of a
 * large cluster holds tens of thousands of these in its SyncState).
 */
class PortRules implements ServicePortRules {
  private filterLines: readonly string[] | undefined;
  private entryLines: readonly string[] | undefined;
  private ruleLines: readonly string[] | undefined;
  constructor(
    readonly view: ServicePortView,
    readonly categories: EndpointCategories,
    readonly natChains: readonly string[],
    readonly text: ServicePortRules['text'],
  ) {}
  get filterRules(): readonly string[] {
    this.filterLines ??= linesOf(this.text.filter);
    return this.filterLines;
  }
  get natEntryRules(): readonly string[] {
    this.entryLines ??= linesOf(this.text.entry);
    return this.entryLines;
  }
  get natChainRules(): readonly string[] {
    this.ruleLines ??= linesOf(this.text.rules);
    return this.ruleLines;
  }
}

const MARK_MASQ = 'KUBE-MARK-MASQ';

export function renderServicePort(
  ctx: NodeContext,
  view: ServicePortView,
  cat: EndpointCategories,
  largeClusterMode: boolean,
): ServicePortRules {
  const proto = view.protocol.toLowerCase();
  const name = view.name;
  // serviceChainName(prefix, name, proto) for the four prefixes: one hash.
  const hashKey = name + proto;
  const svcHash = chainHashOf(hashKey, '');
  const clusterChain = `KUBE-SVC-${svcHash}`;
  const localChain = `KUBE-SVL-${svcHash}`;
  const extChain = `KUBE-EXT-${svcHash}`;
  const fwChain = `KUBE-FW-${svcHash}`;
  const hasEndpoints = cat.hasAnyEndpoints;

  const usesClusterPolicyChain = cat.clusterEndpoints.length > 0 && view.usesClusterEndpoints;
  const usesLocalPolicyChain = cat.localEndpoints.length > 0 && view.usesLocalEndpoints;

  const internalChain = view.internalPolicyLocal ? localChain : clusterChain;
  const hasInternalEndpoints = hasEndpoints && !(view.internalPolicyLocal && cat.localEndpoints.length === 0);
  const externalPolicyChain = view.externalPolicyLocal ? localChain : clusterChain;
  const hasExternalEndpoints = hasEndpoints && !(view.externalPolicyLocal && cat.localEndpoints.length === 0);
  const usesExternalChain = hasEndpoints && view.externallyAccessible;
  const usesFWChain =
    hasEndpoints && view.loadBalancerVIPs.length > 0 && view.loadBalancerSourceRanges.length > 0;
  const lbChain = usesFWChain ? fwChain : extChain;

  let internalFilter = '';
  let externalFilter = '';
  if (!hasEndpoints) {
    internalFilter = `-m comment --comment "${name} has no endpoints"`;
    externalFilter = internalFilter;
  } else {
    if (!hasInternalEndpoints) internalFilter = `-m comment --comment "${name} has no local endpoints"`;
    if (!hasExternalEndpoints) externalFilter = `-m comment --comment "${name} has no local endpoints"`;
  }
  const filterTarget = hasEndpoints ? 'DROP' : 'REJECT';

  const filter: string[] = [];
  const entry: string[] = [];
  const chains: string[] = [];
  const rules: string[] = [];
  const mp = `-m ${proto} -p ${proto}`;
  const dport = `--dport ${view.port}`;
  const cip = view.clusterIP.text;

  // ClusterIP.
  if (hasInternalEndpoints) {
    entry.push(
      `-A KUBE-SERVICES -m comment --comment "${name} cluster IP" ${mp} -d ${cip} ${dport} -j ${internalChain}`,
    );
  } else {
    filter.push(`-A KUBE-SERVICES ${internalFilter} ${mp} -d ${cip} ${dport} -j ${filterTarget}`);
  }
  // External IPs.
  for (const ip of view.externalIPs) {
    if (hasEndpoints)
      entry.push(
        `-A KUBE-SERVICES -m comment --comment "${name} external IP" ${mp} -d ${ip.text} ${dport} -j ${extChain}`,
      );
    if (!hasExternalEndpoints)
      filter.push(
        `-A KUBE-EXTERNAL-SERVICES ${externalFilter} ${mp} -d ${ip.text} ${dport} -j ${filterTarget}`,
      );
  }
  // Load-balancer IPs.
  for (const ip of view.loadBalancerVIPs) {
    if (hasEndpoints)
      entry.push(
        `-A KUBE-SERVICES -m comment --comment "${name} loadbalancer IP" ${mp} -d ${ip.text} ${dport} -j ${lbChain}`,
      );
    if (usesFWChain) {
      filter.push(
        `-A KUBE-PROXY-FIREWALL -m comment --comment "${name} traffic not accepted by ${fwChain}" ${mp} -d ${ip.text} ${dport} -j DROP`,
      );
    }
  }
  if (!hasExternalEndpoints) {
    for (const ip of view.loadBalancerVIPs) {
      filter.push(
        `-A KUBE-EXTERNAL-SERVICES ${externalFilter} ${mp} -d ${ip.text} ${dport} -j ${filterTarget}`,
      );
    }
  }
  // Node port (not subject to loadBalancerSourceRanges).
  if (view.nodePort !== 0) {
    if (hasEndpoints) {
      if (ctx.localhostNodePorts && ctx.nfacct) {
        entry.push(
          `-A KUBE-NODEPORTS -m comment --comment ${name} ${mp} -d 127.0.0.0/8 --dport ${view.nodePort} -m nfacct --nfacct-name localhost_nps_accepted_pkts -j ${extChain}`,
        );
      }
      entry.push(
        `-A KUBE-NODEPORTS -m comment --comment ${name} ${mp} --dport ${view.nodePort} -j ${extChain}`,
      );
    }
    if (!hasExternalEndpoints) {
      filter.push(
        `-A KUBE-EXTERNAL-SERVICES ${externalFilter} -m addrtype --dst-type LOCAL ${mp} --dport ${view.nodePort} -j ${filterTarget}`,
      );
    }
  }
  // Health check node port: accepted whether or not there are local endpoints.
  if (view.healthCheckNodePort !== 0) {
    filter.push(
      `-A KUBE-NODEPORTS -m comment --comment "${name} health check node port" -m tcp -p tcp --dport ${view.healthCheckNodePort} -j ACCEPT`,
    );
  }

  // Internal traffic: masquerade off-cluster sources (or everything with masqueradeAll).
  if (hasInternalEndpoints) {
    const match = `-m comment --comment "${name} cluster IP" ${mp} -d ${cip} ${dport}`;
    if (ctx.masqueradeAll) rules.push(`-A ${internalChain} ${match} -j ${MARK_MASQ}`);
    else if (ctx.detector)
      rules.push(`-A ${internalChain} ${match} ${ctx.detector.ifNotLocal} -j ${MARK_MASQ}`);
  }
  // External traffic.
  if (usesExternalChain) {
    chains.push(extChain);
    if (!view.externalPolicyLocal) {
      rules.push(
        `-A ${extChain} -m comment --comment "masquerade traffic for ${name} external destinations" -j ${MARK_MASQ}`,
      );
    } else {
      if (ctx.detector) {
        rules.push(
          `-A ${extChain} -m comment --comment "pod traffic for ${name} external destinations" ${ctx.detector.ifLocal} -j ${clusterChain}`,
        );
      }
      rules.push(
        `-A ${extChain} -m comment --comment "masquerade LOCAL traffic for ${name} external destinations" -m addrtype --src-type LOCAL -j ${MARK_MASQ}`,
      );
      rules.push(
        `-A ${extChain} -m comment --comment "route LOCAL traffic for ${name} external destinations" -m addrtype --src-type LOCAL -j ${clusterChain}`,
      );
    }
    if (hasExternalEndpoints) rules.push(`-A ${extChain} -j ${externalPolicyChain}`);
  }
  // loadBalancerSourceRanges.
  if (usesFWChain) {
    chains.push(fwChain);
    const head = `-A ${fwChain} -m comment --comment "${name} loadbalancer IP"`;
    let allowFromNode = false;
    for (const cidr of view.loadBalancerSourceRanges) {
      rules.push(`${head} -s ${cidr.text} -j ${extChain}`);
      if (ctx.nodeIP && prefixContains(cidr, ctx.nodeIP)) allowFromNode = true;
    }
    if (allowFromNode)
      for (const ip of view.loadBalancerVIPs) rules.push(`${head} -s ${ip.text} -j ${extChain}`);
    rules.push(
      `-A ${fwChain} -m comment --comment "other traffic to ${name} will be dropped by KUBE-PROXY-FIREWALL"`,
    );
  }

  // endpointChainName(name, proto, e.text), once per endpoint.
  const sepNames = new Map<EndpointView, string>();
  const sepName = (e: EndpointView) => {
    let sep = sepNames.get(e);
    if (sep === undefined) {
      sep = `KUBE-SEP-${chainHashOf(hashKey, e.text)}`;
      sepNames.set(e, sep);
    }
    return sep;
  };
  const dispatch = (chain: string, eps: readonly EndpointView[]) => {
    if (view.affinitySeconds !== null) {
      for (const e of eps) {
        const sep = sepName(e);
        const c = largeClusterMode ? '' : ` -m comment --comment "${name} -> ${e.text}"`;
        rules.push(
          `-A ${chain}${c} -m recent --name ${sep} --rcheck --seconds ${view.affinitySeconds} --reap -j ${sep}`,
        );
      }
    }
    const n = eps.length;
    eps.forEach((e, i) => {
      const c = largeClusterMode ? '' : ` -m comment --comment "${name} -> ${e.text}"`;
      const stat = i < n - 1 ? ` -m statistic --mode random --probability ${probability(n - i)}` : '';
      rules.push(`-A ${chain}${c}${stat} -j ${sepName(e)}`);
    });
  };
  if (usesClusterPolicyChain) {
    chains.push(clusterChain);
    dispatch(clusterChain, cat.clusterEndpoints);
  }
  if (usesLocalPolicyChain) {
    chains.push(localChain);
    dispatch(localChain, cat.localEndpoints);
  }
  // Endpoint chains: hairpin masquerade, then DNAT (recording the client for affinity).
  for (const e of cat.allReachableEndpoints) {
    const sep = sepName(e);
    chains.push(sep);
    const head = largeClusterMode ? `-A ${sep}` : `-A ${sep} -m comment --comment ${name}`;
    rules.push(`${head} -s ${e.ip.text} -j ${MARK_MASQ}`);
    const recent = view.affinitySeconds !== null ? ` -m recent --name ${sep} --set` : '';
    rules.push(`${head}${recent} ${mp} -j DNAT --to-destination ${e.text}`);
  }

  return new PortRules(view, cat, chains, {
    filter: block(filter),
    entry: block(entry),
    chains: chains.length ? `:${chains.join(' - [0:0]\n:')} - [0:0]\n` : '',
    rules: block(rules),
  });
}
