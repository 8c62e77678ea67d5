/**
 * Where `kpath lab check` runs a lab's cluster: one of LAB_SLOTS blocks of loopback addresses that no
 * `kpath up` of an ordinary cluster uses (its twins are 127.96-111.x for services, 127.244.x for pods,
 * 127.0.0.x for nodes) and that `kpath demo` does not use (127.16-95.x). The model addresses stay as
 * written. A slot is held by a listening socket on its lock address, so parallel checks (two
 * terminals, the test runner's workers) each take their own.
 *
 *   slot k   services 10.96.0.0/12   -> 127.(112+16k).0.0/12
 *            pods     10.244.0.0/16  -> 127.(24+k).0.0/16
 *            nodes    10.0.0.0/24    -> 127.(8+k).0.0/24
 *            outside  192.0.2.0/24   -> 127.(8+k).2.0/24     (TEST-NET-1: `from: external`)
 *            LB pool  10.250.0.0/24  -> 127.(8+k).250.0/24
 *            lock     127.(8+k).255.254:LOCK_PORT
 *   Docker   the i-th Docker network's first /24 (its gateway and containers: 172.17.0.0/24 of
 *            docker0) -> 127.(8+k).(16+i).0/24, instead of the 127.17.x twins a `kpath up` gives it
 *            host's 127.0.0.1 (published ports)  -> 127.(8+k).1.1
 *            embedded DNS (127.0.0.11:53)        -> 127.(8+k).1.11, a port the system picks
 */
import type { Prefix } from '../netmodel/addr.js';
import type { Slot } from '../proxy/isolated/index.js';

/** At most this many Docker networks get twins in a slot (the rest are emulated only). */
export const MAX_DOCKER_NETWORKS = 200;

/** A Docker subnet's model prefix in a slot: the subnet itself when it is a /24 or smaller. */
function dockerModel(subnet: Prefix): string {
  if (subnet.bits >= 24 || subnet.ip.family !== 4) return subnet.text;
  const n = subnet.ip.n >>> 0;
  return `${n >>> 24}.${(n >>> 16) & 255}.${(n >>> 8) & 255}.0/24`;
}

export const LAB_SLOTS = 8;
/** Any port: the lock address is the slot's own. */
export const LOCK_PORT = 40_400;

export function labSlot(k: number, dockerSubnets: readonly Prefix[] = []): Slot {
  const docker = dockerSubnets
    .filter((p) => p.ip.family === 4)
    .slice(0, MAX_DOCKER_NETWORKS)
    .map((p, i) => ({
      model: dockerModel(p),
      loopback: `127.${8 + k}.${16 + i}.0/${Math.max(24, p.bits)}`,
    }));
  return {
    ...(docker.length
      ? {
          runtime: { dockerLocalhost: `127.${8 + k}.1.1`, dockerDns: { host: `127.${8 + k}.1.11`, port: 0 } },
        }
      : {}),
    loopbackMap: [
      ...docker,
      { model: '10.96.0.0/12', loopback: `127.${112 + 16 * k}.0.0/12` },
      { model: '10.244.0.0/16', loopback: `127.${24 + k}.0.0/16` },
      { model: '10.0.0.0/24', loopback: `127.${8 + k}.0.0/24` },
      { model: '192.0.2.0/24', loopback: `127.${8 + k}.2.0/24` },
      { model: '10.250.0.0/24', loopback: `127.${8 + k}.250.0/24` },
    ],
    lock: { host: `127.${8 + k}.255.254`, port: LOCK_PORT },
  };
}

/** The slots in the order to try them, starting at `first` (spreads parallel runs). */
export function labSlots(first = 0, dockerSubnets: readonly Prefix[] = []): Slot[] {
  return Array.from({ length: LAB_SLOTS }, (_, i) => labSlot((first + i) % LAB_SLOTS, dockerSubnets));
}
