/** Lab mtu-vxlan: pods at MTU 1500 over flannel.1 at 1450 (emulated datapath: loopback has no such MTU). */
import { expect, it } from 'vitest';
import { detail, roundTrip } from './helpers.js';

it("mtu-vxlan: a 1500-byte segment stops at flannel.1 with frag-needed; at the pods' MTU 1450 it arrives", async () => {
  const { broken, fixed } = await roundTrip('mtu-vxlan');
  const check = 'a full-size TCP segment from backup reaches the store service across the overlay';
  // flannel's vxlan backend: flannel.1 MTU = uplink 1500 - 50; the pod's MSS = 1500 - 40.
  expect(detail(broken, check)).toMatch(
    /1460 bytes of payload \(1500 bytes on the wire.*stops on node-1 at flannel\.1.*MTU 1450/,
  );
  expect(detail(fixed, check)).toMatch(/1410 bytes of payload .*pod default\/store on node-2 receives tcp/);
});
