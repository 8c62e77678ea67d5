/**
 * A stand-in for proxy/native/load.js (bench/proxy-js.mjs): the addon's calls answer at once and do
 * nothing, so what is measured is the runtime's JavaScript per connection, not the syscalls. A dial
 * connects inside tcpConnect (as on loopback); relayStart records its token, which the bench ends
 * through the relayOnClosed callback.
 */
export const RelayFin = { CLIENT: 1, ENDPOINT: 2 };
export const fake = { onClosed: undefined, tokens: [], starts: 0, segsOff: 0 };
let fd = 100;
let handle = 1;
const addon = {
  relayOnClosed(cb) {
    fake.onClosed = cb;
  },
  relayStart(_c, _u, token, _own, _ka, segs) {
    fake.tokens.push(token);
    fake.starts++;
    if (segs === false) fake.segsOff++;
    return handle++;
  },
  relayBytes() {
    return [0, 0, 0, 0, 0, 0, 0];
  },
  relayClose() {},
  relayPipePool() {
    return 0;
  },
  tcpConnect() {
    fd = fd >= 30000 ? 100 : fd + 1;
    return fd * 65536 + 40000;
  },
  fdClose() {},
  tcpListen() {
    throw new Error('not in this bench');
  },
  tcpListenClose() {},
};
export function nativeAddon() {
  return addon;
}
export function nativeStatus() {
  return 'bench stand-in';
}
