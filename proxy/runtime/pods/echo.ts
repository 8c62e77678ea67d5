/**
 * The built-in echo container (any container without `command`). On each containerPort, on the pod's
 * loopback twin:
 *  - TCP: the first bytes decide. A request line starting with an HTTP method is served as HTTP/1.1;
 *    anything else is echoed back byte for byte (with backpressure) until the client half-closes.
 *  - UDP: each datagram is echoed back; the datagram `whoami` is answered with the JSON identity.
 * HTTP/2 without TLS (gRPC): the gRPC health checking protocol's Check answers SERVING, so grpc
 * probes pass; any other method answers UNIMPLEMENTED.
 * HTTP: `GET /` (and any path not below) answers JSON {pod, namespace, node, podIP, container, port,
 * client, clientLoopback, method, path}; `/healthz` answers ok; `/bytes/N` streams N bytes.
 * `client` is the MODEL address:port the connection came from (toModel of the socket's peer), so
 * masquerading is visible. A peer with no model address (127.0.0.1) is a process on the pod's own
 * node and is reported as that node's address.
 */
import { createSocket, type Socket as UdpSocket } from 'node:dgram';
import { createServer as createHttpServer, type IncomingMessage, type ServerResponse } from 'node:http';
import { createServer as createH2Server, type Http2Server, type ServerHttp2Stream } from 'node:http2';
import { createServer, type Server, type Socket } from 'node:net';
import { tryParseIP } from '../../../netmodel/addr.js';
import type { ContainerPort } from '../../../netmodel/cluster/index.js';
import type { TwinMap } from '../../../netmodel/twins.js';
import { listenError } from '../bind-errors.js';

export interface PodIdentity {
  readonly pod: string;
  readonly namespace: string;
  readonly node: string;
  /** Model IP. */
  readonly podIP: string;
  /** The node's model IP (what a process on the node appears as). */
  readonly nodeIP: string;
  /** Where the pod's sockets live. */
  readonly loopbackIP: string;
}

const HTTP_START = /^(GET|HEAD|POST|PUT|DELETE|OPTIONS|PATCH|CONNECT|TRACE) /;
const H2_PREFACE = 'PRI * HTTP/2.0';

/** A gRPC server that knows one method: grpc.health.v1.Health/Check, answering SERVING. */
function grpcServer(): Http2Server {
  const h2 = createH2Server();
  h2.on('stream', (stream: ServerHttp2Stream, headers) => {
    stream.on('error', () => {});
    stream.resume();
    stream.on('end', () => {
      if (headers[':path'] !== '/grpc.health.v1.Health/Check') {
        stream.respond(
          { ':status': 200, 'content-type': 'application/grpc', 'grpc-status': '12' },
          { endStream: true },
        );
        return;
      }
      // HealthCheckResponse { status: SERVING (1) }, length-prefixed.
      stream.respond({ ':status': 200, 'content-type': 'application/grpc' }, { waitForTrailers: true });
      stream.once('wantTrailers', () => stream.sendTrailers({ 'grpc-status': '0' }));
      stream.end(Buffer.from([0, 0, 0, 0, 2, 0x08, 0x01]));
    });
  });
  h2.on('sessionError', () => {});
  return h2;
}
const MAX_STREAM = 1 << 30;

export class EchoContainer {
  private servers: Server[] = [];
  private udps: UdpSocket[] = [];
  private readonly sockets = new Set<Socket>();

  constructor(
    private readonly id: PodIdentity,
    private readonly container: string,
    private readonly ports: readonly ContainerPort[],
    private readonly twins: TwinMap,
  ) {}

  private clientOf(
    addr: string | undefined,
    port: number | undefined,
  ): { client: string; clientLoopback: string } {
    const real = addr ? tryParseIP(addr.replace(/^::ffff:/, '')) : undefined;
    const model = real ? this.twins.toModel(real) : undefined;
    return {
      client: `${model ? model.text : this.id.nodeIP}:${port ?? 0}`,
      clientLoopback: `${addr ?? '?'}:${port ?? 0}`,
    };
  }

  identity(
    port: number,
    addr: string | undefined,
    rport: number | undefined,
    extra: Record<string, unknown> = {},
  ) {
    return {
      pod: this.id.pod,
      namespace: this.id.namespace,
      node: this.id.node,
      podIP: this.id.podIP,
      container: this.container,
      port,
      ...this.clientOf(addr, rport),
      ...extra,
    };
  }

  async start(): Promise<void> {
    try {
      for (const p of this.ports) {
        if (p.protocol === 'TCP') this.servers.push(await this.tcp(p.containerPort));
        else if (p.protocol === 'UDP') this.udps.push(await this.udp(p.containerPort));
      }
    } catch (e) {
      await this.stop();
      throw e;
    }
  }

  private tcp(port: number): Promise<Server> {
    const http = createHttpServer((req, res) => this.http(port, req, res));
    http.keepAliveTimeout = 5000;
    let h2: Http2Server | undefined;
    const server = createServer({ allowHalfOpen: true, pauseOnConnect: true, noDelay: true }, (sock) => {
      this.sockets.add(sock);
      sock.on('close', () => this.sockets.delete(sock));
      sock.on('error', () => {});
      sock.once('readable', () => {
        const first = sock.read() as Buffer | null;
        if (!first) {
          sock.end();
          return;
        }
        sock.unshift(first);
        if (HTTP_START.test(first.subarray(0, 8).toString('latin1'))) {
          http.emit('connection', sock);
          return;
        }
        if (first.subarray(0, H2_PREFACE.length).toString('latin1') === H2_PREFACE) {
          h2 ??= grpcServer();
          h2.emit('connection', sock);
          return;
        }
        sock.pipe(sock);
      });
    });
    return new Promise((resolve, reject) => {
      server.once('error', (e: NodeJS.ErrnoException) =>
        reject(
          listenError(
            this.id.loopbackIP,
            port,
            'TCP',
            `echo server of pod ${this.id.namespace}/${this.id.pod}`,
            e,
          ),
        ),
      );
      server.listen({ host: this.id.loopbackIP, port }, () => resolve(server));
    });
  }

  private http(port: number, req: IncomingMessage, res: ServerResponse): void {
    const path = (req.url ?? '/').split('?')[0]!;
    if (path === '/healthz') {
      res.writeHead(200, { 'content-type': 'text/plain' }).end('ok\n');
      return;
    }
    const m = /^\/bytes\/(\d+)$/.exec(path);
    if (m) {
      let left = Math.min(Number(m[1]), MAX_STREAM);
      res.writeHead(200, { 'content-type': 'application/octet-stream', 'content-length': String(left) });
      const chunk = Buffer.alloc(64 * 1024, 0x61);
      const pump = () => {
        while (left > 0) {
          const n = Math.min(left, chunk.length);
          left -= n;
          if (!res.write(n === chunk.length ? chunk : chunk.subarray(0, n))) {
            res.once('drain', pump);
            return;
          }
        }
        res.end();
      };
      pump();
      return;
    }
    const body = `${JSON.stringify(this.identity(port, req.socket.remoteAddress, req.socket.remotePort, { method: req.method, path: req.url }))}\n`;
    res.writeHead(200, { 'content-type': 'application/json' }).end(body);
  }

  private udp(port: number): Promise<UdpSocket> {
    const s = createSocket('udp4');
    s.on('message', (msg, rinfo) => {
      const text = msg.toString('utf8').trim();
      const out =
        text === 'whoami'
          ? Buffer.from(`${JSON.stringify(this.identity(port, rinfo.address, rinfo.port))}\n`)
          : msg;
      s.send(out, rinfo.port, rinfo.address);
    });
    return new Promise((resolve, reject) => {
      s.once('error', (e: NodeJS.ErrnoException) => {
        s.close();
        reject(
          listenError(
            this.id.loopbackIP,
            port,
            'UDP',
            `echo server of pod ${this.id.namespace}/${this.id.pod}`,
            e,
          ),
        );
      });
      s.bind({ address: this.id.loopbackIP, port, exclusive: true }, () => {
        s.removeAllListeners('error');
        s.on('error', () => {});
        resolve(s);
      });
    });
  }

  /** Stop as a killed process would: listeners gone, every open connection reset. */
  async stop(): Promise<void> {
    const servers = this.servers;
    this.servers = [];
    for (const s of this.sockets) s.resetAndDestroy();
    this.sockets.clear();
    await Promise.all(servers.map((s) => new Promise<void>((r) => s.close(() => r()))));
    for (const u of this.udps) u.close();
    this.udps = [];
  }
}
