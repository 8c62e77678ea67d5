// kpath kernel-diff helper: a server inside one network namespace. Run as
//   ip netns exec <ns> node server.mjs <name> <addrs,...> <tcpPorts,...> <udpPorts,...>
// Listens on every address at every port (one socket each, so a UDP answer names its address). Each TCP connection and UDP datagram carries a token line
// "<id>\n"; the helper reports {ev:'seen', id, name, proto, local, remote} on stdout (JSON lines) and
// answers "<name> <local> <remote>\n". Commands on stdin (JSON lines): {cmd:'reset'} resets every
// accepted connection (RST) and answers {ev:'reset'}; {cmd:'exit'}.
import dgram from 'node:dgram';
import net from 'node:net';
import readline from 'node:readline';

const [name, addrArg = '', tcpArg = '', udpArg = ''] = process.argv.slice(2);
const addrs = addrArg.split(',').filter(Boolean);
const tcpPorts = tcpArg.split(',').filter(Boolean).map(Number);
const udpPorts = udpArg.split(',').filter(Boolean).map(Number);
const out = (o) => process.stdout.write(`${JSON.stringify(o)}\n`);
const sockets = new Set();

function onConn(sock) {
  sockets.add(sock);
  sock.on('error', () => {});
  sock.on('close', () => sockets.delete(sock));
  let buf = '';
  let seen = false;
  sock.on('data', (d) => {
    if (seen) return;
    buf += d.toString('latin1');
    const nl = buf.indexOf('\n');
    if (nl < 0) return;
    const id = buf.slice(0, nl);
    seen = true;
    const local = `${sock.localAddress}:${sock.localPort}`;
    const remote = `${sock.remoteAddress}:${sock.remotePort}`;
    out({ ev: 'seen', id, name, proto: 'tcp', local, remote });
    sock.write(`${name} ${local} ${remote}\n`);
  });
}

const pending = [];
for (const host of addrs)
  for (const port of tcpPorts) {
    const srv = net.createServer(onConn);
    pending.push(
      new Promise((res, rej) => srv.once('error', rej).listen({ port, host, backlog: 1024 }, res)),
    );
  }
for (const host of addrs)
  for (const port of udpPorts) {
    const s = dgram.createSocket('udp4');
    s.on('message', (msg, rinfo) => {
      const id = msg.toString('latin1').split('\n')[0];
      const local = `${host}:${port}`;
      const remote = `${rinfo.address}:${rinfo.port}`;
      out({ ev: 'seen', id, name, proto: 'udp', local, remote });
      s.send(`${name} ${local} ${remote}\n`, rinfo.port, rinfo.address);
    });
    s.on('error', () => {});
    pending.push(new Promise((res, rej) => s.once('error', rej).bind(port, host, res)));
  }

Promise.all(pending).then(
  () => out({ ev: 'ready', name }),
  (e) => {
    out({ ev: 'fatal', message: String(e?.message ?? e) });
    process.exit(1);
  },
);

readline.createInterface({ input: process.stdin }).on('line', (line) => {
  const m = JSON.parse(line);
  if (m.cmd === 'reset') {
    for (const s of sockets) {
      if (typeof s.resetAndDestroy === 'function' && !s.destroyed) s.resetAndDestroy();
      else s.destroy();
    }
    sockets.clear();
    out({ ev: 'reset', seq: m.seq });
  } else if (m.cmd === 'exit') process.exit(0);
});
process.stdin.on('end', () => process.exit(0));
