/**
 * The test topology, as data shared by the real namespaces and the emulated router:
 *
 *   client ns                 router ns (device under test)               server ns
 *   c0 10.10.1.2/24  <-veth->  r0 10.10.1.1/24   r1 10.10.2.1/24  <-veth->  s0 10.10.2.2/24
 *      10.10.1.3, .4                              10.10.2.9 (secondary)       10.10.2.3
 *   default via 10.10.1.1      ip_forward=1, the rules under test          default via 10.10.2.1
 *
 * 10.96.0.10 and .11 are "virtual" addresses nobody owns and the router has no route to: only a
 * DNAT makes them reachable. Every address here lives only inside the harness's namespaces.
 */
export const CLIENT_ADDRS = ['10.10.1.2', '10.10.1.3', '10.10.1.4'] as const;
export const SERVER_ADDRS = ['10.10.2.2', '10.10.2.3'] as const;
/** The router's own addresses (r0, r1, r1's secondary). */
export const ROUTER_ADDRS = ['10.10.1.1', '10.10.2.1', '10.10.2.9'] as const;
export const VIP_ADDRS = ['10.96.0.10', '10.96.0.11'] as const;
/** Ports every server and the router listen on (so no SYN ever meets a closed port). */
export const TCP_PORTS = [80, 443, 8080] as const;
export const UDP_PORTS = [53, 5353] as const;

export const ROUTER_IF = { client: 'r0', server: 'r1' } as const;
