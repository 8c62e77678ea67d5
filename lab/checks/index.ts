// The check kinds a lab.yaml may name, one line each (a kind lives in lab/checks/<kind>.ts), and the
// helpers they share, listed by hand.
import { dns } from './dns.js';
import { dnsLookup } from './dns-lookup.js';
import { dockerHttp } from './docker-http.js';
import { envHttp } from './env-http.js';
import { http } from './http.js';
import { httpConcurrent } from './http-concurrent.js';
import { overlayPath } from './overlay-path.js';
import { type RegisteredKind, register } from './registry.js';
import { tcp } from './tcp.js';

export const CHECK_KINDS: Readonly<Record<string, RegisteredKind>> = {
  http: register(http),
  tcp: register(tcp),
  dns: register(dns),
  'dns-lookup': register(dnsLookup),
  'env-http': register(envHttp),
  'http-concurrent': register(httpConcurrent),
  'overlay-path': register(overlayPath),
  'docker-http': register(dockerHttp),
};

export { type DnsObserved, type DnsSpec, judgeDns, parseDns } from './dns.js';
export { type HttpObserved, type HttpSpec, judgeHttp, parseHttp, podMatches } from './http.js';
export { type PreparedCheck, type RegisteredKind, register } from './registry.js';
export { checkFrom, EXTERNAL_CLIENT, sourceIn } from './source.js';
export { judgeTcp, parseTcp, type TcpObserved, type TcpSpec } from './tcp.js';
export type { CheckEnv, CheckKind, Verdict } from './types.js';
