/** Pod and pod templates: containers, ports, scheduling fields, status. */
import { type IP, tryParseIP } from '../addr.js';
import type { Fields } from './fields.js';
import { dns1123Label, ianaSvcName } from './names.js';
import type { Container, ContainerPort, Meta, Pod, PodPhase, Protocol, Toleration } from './objects.js';
import { PROTOCOLS } from './objects.js';

export interface PodSpecParts {
  readonly nodeName: string | null;
  readonly nodeSelector: Record<string, string>;
  readonly tolerations: Toleration[];
  readonly hostname?: string;
  readonly subdomain?: string;
  readonly hostNetwork: boolean;
  readonly restartPolicy: 'Always' | 'OnFailure' | 'Never';
  readonly containers: Container[];
}

/** Reads a PodSpec at `spec` (relative to f). */
export function decodePodSpec(f: Fields): PodSpecParts {
  const s = f.at(['spec']);
  if (!f.has(['spec'])) f.error(['spec'], 'required: a pod spec with at least one container');
  const containers: Container[] = [];
  const list = s.array(['containers']);
  if (!list || list.length === 0) {
    if (f.has(['spec'])) s.error(['containers'], 'required: at least one container');
  }
  const containerNames = new Set<string>();
  const portNames = new Map<string, string>();
  (list ?? []).forEach((_, i) => {
    const c = s.at(['containers', i]);
    const name = c.str(['name']) ?? '';
    if (name === '') c.error(['name'], 'required: a container name');
    else {
      const e = dns1123Label(name);
      if (e) c.error(['name'], `invalid container name "${name}": ${e}`);
      if (containerNames.has(name)) c.error(['name'], `duplicate container name "${name}"`);
      containerNames.add(name);
    }
    const image = c.str(['image']) ?? '';
    if (image === '')
      c.error(
        ['image'],
        'required: an image (any string; kpath runs a built-in echo server unless command is given)',
      );
    const ports: ContainerPort[] = [];
    (c.array(['ports']) ?? []).forEach((_, j) => {
      const p = c.at(['ports', j]);
      const containerPort = p.int(['containerPort'], { min: 1, max: 65535 });
      if (containerPort === undefined && !p.has(['containerPort']))
        p.error(['containerPort'], 'required: a port number 1-65535');
      const protocol = (p.oneOf(['protocol'], PROTOCOLS) ?? 'TCP') as Protocol;
      const pname = p.str(['name']);
      if (pname !== undefined) {
        const e = ianaSvcName(pname);
        if (e) p.error(['name'], `invalid port name "${pname}": ${e}`);
        const prev = portNames.get(pname);
        if (prev !== undefined)
          p.error(['name'], `duplicate port name "${pname}" in this pod (also in container ${prev})`);
        portNames.set(pname, name);
      }
      const hostPort = p.int(['hostPort'], { min: 1, max: 65535 });
      if (containerPort !== undefined) {
        ports.push({
          containerPort,
          protocol,
          ...(pname !== undefined ? { name: pname } : {}),
          ...(hostPort !== undefined ? { hostPort } : {}),
        });
      }
    });
    const env: { name: string; value?: string }[] = [];
    (c.array(['env']) ?? []).forEach((_, j) => {
      const e = c.at(['env', j]);
      const en = e.str(['name']);
      if (!en) e.error(['name'], 'required: an environment variable name');
      else {
        const v = e.get(['value']);
        env.push(v === undefined || v === null ? { name: en } : { name: en, value: String(v) });
      }
    });
    const command = c.strArray(['command']);
    const args = c.strArray(['args']);
    const readinessProbe = c.object(['readinessProbe']);
    const livenessProbe = c.object(['livenessProbe']);
    containers.push({
      name,
      image,
      ports,
      env,
      ...(command ? { command } : {}),
      ...(args ? { args } : {}),
      ...(readinessProbe ? { readinessProbe } : {}),
      ...(livenessProbe ? { livenessProbe } : {}),
    });
  });
  const tolerations: Toleration[] = [];
  (s.array(['tolerations']) ?? []).forEach((_, i) => {
    const t = s.at(['tolerations', i]);
    const operator = t.oneOf(['operator'], ['Equal', 'Exists'] as const) ?? 'Equal';
    const key = t.str(['key']);
    const value = t.str(['value']);
    const effect = t.oneOf(['effect'], ['NoSchedule', 'PreferNoSchedule', 'NoExecute'] as const);
    if (operator === 'Exists' && value) t.error(['value'], 'must be empty when operator is Exists');
    tolerations.push({
      operator,
      ...(key !== undefined ? { key } : {}),
      ...(value !== undefined ? { value } : {}),
      ...(effect !== undefined ? { effect } : {}),
    });
  });
  const hostname = s.str(['hostname']);
  if (hostname !== undefined) {
    const e = dns1123Label(hostname);
    if (e) s.error(['hostname'], `invalid hostname "${hostname}": ${e}`);
  }
  const subdomain = s.str(['subdomain']);
  if (subdomain !== undefined) {
    const e = dns1123Label(subdomain);
    if (e) s.error(['subdomain'], `invalid subdomain "${subdomain}": ${e}`);
  }
  return {
    nodeName: s.str(['nodeName']) ?? null,
    nodeSelector: s.strMap(['nodeSelector']) ?? {},
    tolerations,
    hostNetwork: s.bool(['hostNetwork']) ?? false,
    restartPolicy: s.oneOf(['restartPolicy'], ['Always', 'OnFailure', 'Never'] as const) ?? 'Always',
    containers,
    ...(hostname !== undefined ? { hostname } : {}),
    ...(subdomain !== undefined ? { subdomain } : {}),
  };
}

export function decodePod(f: Fields, meta: Meta): Pod {
  const spec = decodePodSpec(f);
  const st = f.at(['status']);
  const phase =
    st.oneOf(['phase'], ['Pending', 'Running', 'Succeeded', 'Failed', 'Unknown'] as const) ?? 'Running';
  let ready = phase === 'Running';
  const conds = st.array(['conditions']);
  if (conds) {
    conds.forEach((_, i) => {
      const c = st.at(['conditions', i]);
      if (c.str(['type']) === 'Ready') {
        const s = c.oneOf(['status'], ['True', 'False', 'Unknown'] as const);
        ready = s === 'True';
      }
    });
  }
  const podIPs: IP[] = [];
  const addIP = (path: (string | number)[], text: string | undefined) => {
    if (text === undefined) return;
    const ip = tryParseIP(text);
    if (!ip) st.error(path, `"${text}" is not a valid IP address`);
    else if (!podIPs.some((p) => p.text === ip.text)) podIPs.push(ip);
  };
  addIP(['podIP'], st.str(['podIP']));
  (st.array(['podIPs']) ?? []).forEach((_, i) => {
    addIP(['podIPs', i, 'ip'], st.at(['podIPs', i]).str(['ip']));
  });
  if (podIPs.length === 2 && podIPs[0]!.family === podIPs[1]!.family) {
    st.error(['podIPs'], 'may hold at most one address of each family');
  }
  return {
    kind: 'Pod',
    meta,
    ...spec,
    phase: phase as PodPhase,
    ready,
    podIPs,
    terminating: meta.deletionTimestamp !== undefined,
    raw: f.body,
    derived: false,
  };
}
