// The public surface of proxy/dns, listed by hand.
export type { Upstream } from './forward.js';
export { exchangeTcp, exchangeUdp, parseUpstream } from './forward.js';
export type { DnsListen, DnsServer, DnsServerAddress, DnsServerOptions, DnsServerStats } from './server.js';
export { DNS_SERVER_DEFAULTS, startDnsServer } from './server.js';
