/**
 * What kpath up says: the ready text lists, per service, what to curl or dig from this host; log lines
 * never carry a key twice; an unnamed service port is shown by its number.
 */
import { Writable } from 'node:stream';
import { describe, expect, it } from 'vitest';
import * as upCmd from '../../cli/commands/up.js';
import { bufferIO } from '../../cli/io.js';
import { addrs, baseCluster, echoDeployment, up, waitFor, writeCluster } from './helpers.js';

const SLOT = 22;
const a = addrs(SLOT);

const unnamed = `---
apiVersion: v1
kind: Service
metadata:
  name: plain
  namespace: default
spec:
  clusterIP: ${a.svcIP(30)}
  selector:
    app: web
  ports:
    - port: 7000
      targetPort: 8080
`;
const cluster = baseCluster(
  SLOT,
  `${echoDeployment('web', 1)}---
apiVersion: v1
kind: Service
metadata:
  name: web
  namespace: default
spec:
  type: NodePort
  clusterIP: ${a.svcIP(20)}
  selector:
    app: web
  ports:
    - name: http
      port: 80
      targetPort: 8080
      nodePort: ${a.nodePort(5)}
${unnamed}`,
  'userspace',
  { dnsAddon: true },
);

/** Keys that appear twice in one JSON object anywhere in `line`. */
function duplicateKeys(line: string): string[] {
  const dups: string[] = [];
  const stack: Set<string>[] = [];
  let i = 0;
  let expectKey = false;
  while (i < line.length) {
    const c = line[i]!;
    if (c === '{') {
      stack.push(new Set());
      expectKey = true;
    } else if (c === '}') stack.pop();
    else if (c === '[') expectKey = false;
    else if (c === ',') expectKey = stack.length > 0 && line.lastIndexOf('{', i) > line.lastIndexOf('[', i);
    else if (c === '"') {
      let j = i + 1;
      while (line[j] !== '"') j += line[j] === '\\' ? 2 : 1;
      const s = line.slice(i + 1, j);
      if (expectKey && line[j + 1] === ':') {
        const keys = stack[stack.length - 1]!;
        if (keys.has(s)) dups.push(s);
        keys.add(s);
        expectKey = false;
      }
      i = j;
    }
    i++;
  }
  return dups;
}

describe('kpath up output', () => {
  it('the ready text names one way in per service: curl, dig, nc', async () => {
    const file = writeCluster(cluster).file;
    const io = bufferIO();
    let stop!: () => void;
    const until = new Promise<void>((r) => {
      stop = r;
    });
    const code = upCmd.run(
      {
        f: [file],
        healthAddress: '127.0.0.1:0',
        metricsAddress: '127.0.0.1:0',
        logLevel: 'silent',
        drainTimeout: 1,
        idleTimeout: 0,
        maxConnections: 0,
        watch: false,
      },
      io,
      until,
    );
    await waitFor(() => io.stderr().includes('Ctrl-C to stop'), 'ready text');
    stop();
    expect(await code).toBe(0);
    const lines = io.stderr().split('\n');
    expect(lines[0]).toMatch(/^kpath up: ready, 3 pods, mode userspace\. From this host:$/);
    expect(lines.slice(1, 4)).toEqual([
      `  default/plain          nc ${a.svcTwin(30)} 7000`,
      `  default/web            curl http://${a.svcTwin(20)}:80/   (NodePort) curl http://127.0.0.1:${a.nodePort(5)}/`,
      `  kube-system/kube-dns   dig @${a.svcTwin(10)} plain.default.svc.cluster.local +short   curl http://${a.svcTwin(10)}:9153/`,
    ]);
    expect(lines[4]).toMatch(
      /^health http:\/\/127\.0\.0\.1:\d+\/healthz, metrics and admin API http:\/\/127\.0\.0\.1:\d+\/metrics\. Ctrl-C to stop\.$/,
    );
  });

  it('log lines carry each key once; an unnamed port is shown by its number', async () => {
    const raw: string[] = [];
    const dest = new Writable({
      write(chunk, _e, cb) {
        raw.push(...chunk.toString().split('\n').filter(Boolean));
        cb();
      },
    });
    // The logger kpath up makes (name "kpath"), writing JSON lines.
    const { createLogger } = await import('../../proxy/runtime/index.js');
    const logger = createLogger({ level: 'info', pretty: false, destination: dest });
    const rt = await up({ files: [writeCluster(cluster).file], logger, watch: false });
    // The addon's coredns pods pass kubeadm's probes (:8181/ready) answered by the built-in server.
    await waitFor(() => {
      const dns = rt.pods().filter((p) => p.pod.startsWith('kube-system/coredns-'));
      return dns.length === 2 && dns.every((p) => p.ready);
    }, 'coredns ready');
    await rt.stop();
    expect(raw.length).toBeGreaterThan(10);
    for (const l of raw) expect({ line: l, dups: duplicateKeys(l) }).toEqual({ line: l, dups: [] });
    const lines = raw.map((l) => JSON.parse(l) as Record<string, unknown>);
    expect(lines.some((l) => l.server === 'dns' && l.component === 'pods')).toBe(true);
    const opened = lines.filter((l) => l.msg === 'listener opened').map((l) => l.svc);
    expect(opened).toContain('default/plain:7000');
    expect(opened).toContain('default/web:http');
    const ready = lines.find((l) => l.msg === 'kpath up: ready')!;
    expect(Object.keys(ready).sort()).toEqual([
      'health',
      'level',
      'listeners',
      'metrics',
      'msg',
      'name',
      'pods',
      'time',
    ]);
  });
});
