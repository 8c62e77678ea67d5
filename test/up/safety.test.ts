/**
 * Safety under kpath up: a container's `command` runs as a host process only with --exec (or the pod
 * annotation kpath.dev/exec: "true"); without it the container gets the built-in echo server and one
 * warning names every refused command.
 */
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import * as upCmd from '../../cli/commands/up.js';
import { bufferIO } from '../../cli/io.js';
import { main } from '../../cli/main.js';
import { addrs, baseCluster, get, memoryLogger, service, up, waitFor, writeCluster } from './helpers.js';

const SLOT = 20;
const a = addrs(SLOT);
const work = mkdtempSync(join(tmpdir(), 'kpath-safety-'));
const script = join(work, 'server.mjs');
writeFileSync(
  script,
  `import http from 'node:http';
http.createServer((req, res) => res.end(JSON.stringify({ ran: 'process', pod: process.env.POD_NAME }))).listen(Number(process.env.PORT), process.env.KPATH_POD_LOOPBACK_IP);
`,
);

function commandPod(name: string, annotations = ''): string {
  return `---
apiVersion: v1
kind: Pod
metadata:
  name: ${name}
  namespace: default
  labels:
    app: ${name}
${annotations}spec:
  nodeName: node-a
  containers:
    - name: main
      image: node
      command: ["${process.execPath}", "${script}"]
      env:
        - name: PORT
          value: "8080"
      ports:
        - containerPort: 8080
      readinessProbe:
        exec:
          command: ["sh", "-c", "touch ${work}/probe-ran-${name}"]
        periodSeconds: 1
`;
}

const yaml = baseCluster(
  SLOT,
  commandPod('fromweb') +
    commandPod('allowed', '  annotations:\n    kpath.dev/exec: "true"\n') +
    service('fromweb', { ip: a.svcIP(20), port: 8000 }) +
    service('allowed', { ip: a.svcIP(21), port: 8000 }),
);

describe('host commands need --exec', () => {
  afterAll(() => rmSync(work, { recursive: true, force: true }));

  it('without --exec: the echo server answers for a pod with a command, one warning names it', async () => {
    const mem = memoryLogger('info');
    const rt = await up({ files: [writeCluster(yaml).file], logger: mem.logger, watch: false });
    try {
      const r = await waitFor(async () => get(a.svcTwin(20), 8000).catch(() => undefined), 'fromweb');
      // The echo server's identity JSON, not the script's output.
      expect(r.json()).toMatchObject({ pod: 'fromweb', namespace: 'default', container: 'main' });
      expect(r.json().ran).toBeUndefined();
      // The annotated pod runs its process.
      const r2 = await waitFor(async () => get(a.svcTwin(21), 8000).catch(() => undefined), 'allowed');
      expect(r2.json()).toEqual({ ran: 'process', pod: 'allowed' });
      await waitFor(() => existsSync(join(work, 'probe-ran-allowed')), "the allowed pod's exec probe");
      expect(existsSync(join(work, 'probe-ran-fromweb'))).toBe(false);
      const warnings = mem.lines().filter((l) => Array.isArray(l.refused));
      expect(warnings).toHaveLength(1);
      expect(warnings[0]!.refused).toEqual([
        `default/fromweb/main: command ${process.execPath} ${script}`,
        `default/fromweb/main: readinessProbe exec sh -c touch ${work}/probe-ran-fromweb`,
      ]);
      expect(String(warnings[0]!.msg)).toMatch(/--exec/);
      expect(String(warnings[0]!.msg)).toMatch(/kpath\.dev\/exec: "true"/);
      expect(rt.pods().find((p) => p.pod === 'default/fromweb')!.containers[0]!.kind).toBe('echo');
      // A reload does not repeat the warning.
      await rt.reload();
      expect(mem.lines().filter((l) => Array.isArray(l.refused))).toHaveLength(1);
    } finally {
      await rt.stop();
    }
  });

  it('with --exec: the command runs as a host process', async () => {
    const rt = await up({ files: [writeCluster(yaml).file], exec: true, watch: false });
    try {
      const r = await waitFor(async () => get(a.svcTwin(20), 8000).catch(() => undefined), 'fromweb');
      expect(r.json()).toEqual({ ran: 'process', pod: 'fromweb' });
    } finally {
      await rt.stop();
    }
  });
});

describe('listen addresses are loopback only', () => {
  const file = writeCluster(baseCluster(SLOT)).file;
  const upArgs = {
    f: [file],
    healthAddress: '127.0.0.1:0',
    metricsAddress: '127.0.0.1:0',
    logLevel: 'silent',
    drainTimeout: 1,
    idleTimeout: 0,
    maxConnections: 0,
    watch: false,
  };

  it.each([
    ['up', '--health-address', '0.0.0.0:10256'],
    ['up', '--metrics-address', '192.168.1.5:10249'],
    ['up', '--metrics-address', '[::]:10249'],
    ['dns', '--listen', '0.0.0.0:5353'],
    ['dns', '--upstream', '8.8.8.8:53'],
  ])('kpath %s %s %s is a usage error (exit 2) that says why', async (cmd, flag, value) => {
    const io = bufferIO();
    const argv = cmd === 'up' ? ['up', '-f', file, flag, value] : ['dns', 'serve', '-f', file, flag, value];
    expect(await main(argv, io)).toBe(2);
    expect(io.stderr()).toContain(`${flag} ${value}: `);
    expect(io.stderr()).toMatch(/is not a loopback address; kpath only uses 127\.0\.0\.0\/8 and ::1/);
  });

  it('accepts 127.x, ::1 and localhost', async () => {
    const io = bufferIO();
    let stop!: () => void;
    const until = new Promise<void>((r) => {
      stop = r;
    });
    const code = upCmd.run(
      { ...upArgs, healthAddress: '[::1]:0', metricsAddress: 'localhost:0', dnsTwins: false },
      io,
      until,
    );
    await waitFor(() => io.stderr().includes('Ctrl-C'), 'ready line');
    stop();
    expect(await code).toBe(0);
  });
});
