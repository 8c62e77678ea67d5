// The client helper behind `kpath curl`, `kpath demo` and `kpath lab check`, listed by hand: who sends (source.ts),
// how a name resolves (resolve.ts; a container's names: docker-resolve.ts), the request (http.ts) and where it went (where.ts).
export { EMBEDDED_DNS_ADDRESS, resolveFromContainer } from './docker-resolve.js';
export { type HttpRequest, type HttpResponse, httpRequest, RequestFailure } from './http.js';
export { type DnsStep, dnsPort, query, queryA, type Resolution, resolveHost } from './resolve.js';
export { type ClientSource, parseSource } from './source.js';
export {
  type Destination,
  describeDestination,
  describeSeen,
  type EchoIdentity,
  parseEcho,
} from './where.js';
