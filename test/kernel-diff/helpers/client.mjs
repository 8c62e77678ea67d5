// kpath kernel-diff helper: the client inside its network namespace. Run as
//   ip netns exec <ns> node client.mjs
// Commands on stdin (JSON lines):
//   {cmd:'tcp'|'udp', id, src, sport, dst, dport, timeout}  -> {ev:'result', id, result, code?, reply?}
//     result: 'answered' (the token's answer came back), 'stalled' (TCP connected, no answer),
//             'refused' / 'error' (with the errno code), 'timeout' (nothing came back)
//   {cmd:'reset', seq} resets every open TCP connection (RST) and closes UDP sockets -> {ev:'reset', seq}
import dgram from 'node:dgram';
import net from 'node:net';
import readline from 'node:readline';

const out = (o) => process.stdout.write(`${JSON.stringify(o)}\n`);
const open = new Set();

function tcp(m) {
  let done = false;
  let connected = false;
  let buf = '';
  const sock = net.connect({ host: m.dst, port: m.dport, localAddress: m.src, localPort: m.sport });
  open.add(sock);
  const finish = (r) => {
    if (done) return;
    done = true;
    clearTimeout(timer);
    out({ ev: 'result', id: m.id, ...r });
  };
  const timer = setTimeout(() => {
    finish({ result: connected ? 'stalled' : 'timeout' });
    // A connect that timed out must not retransmit its SYN into a later connection's time.
    if (!connected) sock.destroy();
  }, m.timeout);
  sock.on('connect', () => {
    connected = true;
    sock.write(`${m.id}\n`);
  });
  sock.on('data', (d) => {
    buf += d.toString('latin1');
    const nl = buf.indexOf('\n');
    if (nl >= 0) finish({ result: 'answered', reply: buf.slice(0, nl) });
  });
  sock.on('error', (e) => {
    finish({ result: e.code === 'ECONNREFUSED' ? 'refused' : 'error', code: e.code, connected });
  });
  sock.on('close', () => open.delete(sock));
}

function udp(m) {
  let done = false;
  const s = dgram.createSocket('udp4');
  open.add(s);
  const finish = (r) => {
    if (done) return;
    done = true;
    clearTimeout(timer);
    out({ ev: 'result', id: m.id, ...r });
  };
  const timer = setTimeout(() => finish({ result: 'timeout' }), m.timeout);
  s.on('error', (e) => finish({ result: e.code === 'ECONNREFUSED' ? 'refused' : 'error', code: e.code }));
  s.on('message', (msg) => finish({ result: 'answered', reply: msg.toString('latin1').split('\n')[0] }));
  s.bind(m.sport, m.src, () => {
    s.connect(m.dport, m.dst, (err) => {
      if (err) return finish({ result: 'error', code: err.code });
      s.send(`${m.id}\n`);
    });
  });
}

readline.createInterface({ input: process.stdin }).on('line', (line) => {
  const m = JSON.parse(line);
  if (m.cmd === 'tcp') tcp(m);
  else if (m.cmd === 'udp') udp(m);
  else if (m.cmd === 'reset') {
    for (const s of open) {
      if (s instanceof net.Socket) {
        if (!s.destroyed && !s.connecting && typeof s.resetAndDestroy === 'function') s.resetAndDestroy();
        else s.destroy();
      } else s.close();
    }
    open.clear();
    out({ ev: 'reset', seq: m.seq });
  } else if (m.cmd === 'exit') process.exit(0);
});
process.stdin.on('end', () => process.exit(0));
out({ ev: 'ready', name: 'client' });
