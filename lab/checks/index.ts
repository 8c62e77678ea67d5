// The check kinds a lab.yaml may name, one line each (a kind lives in lab/checks/<kind>.ts), and the
// helpers they share, listed by hand.
import { dnsLookup } from './dns-lookup.js';
import { envHttp } from './env-http.js';
import { http } from './http.js';
import { httpConcurrent } from './http-concurrent.js';
import { overlayPath } from './overlay-path.js';
import { type RegisteredKind, register } from './registry.js';

export const CHECK_KINDS: Readonly<Record<string, RegisteredKind>> = {
  http: register(http),
  'dns-lookup': register(dnsLookup),
  'env-http': register(envHttp),
  'http-concurrent': register(httpConcurrent),
  'overlay-path': register(overlayPath),
};

export { type HttpObserved, type HttpSpec, judgeHttp, parseHttp, podMatches } from './http.js';
export { type PreparedCheck, type RegisteredKind, register } from './registry.js';
export { checkFrom, EXTERNAL_CLIENT, sourceIn } from './source.js';
export type { CheckEnv, CheckKind, Verdict } from './types.js';
