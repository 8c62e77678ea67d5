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
 */
import type { Slot } from '../proxy/isolated/index.js';

export const LAB_SLOTS = 8;
/** Any port: the lock address is the slot's own. */
export const LOCK_PORT = 40_400;

export function labSlot(k: number): Slot {
  return {
    loopbackMap: [
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
export function labSlots(first = 0): Slot[] {
  return Array.from({ length: LAB_SLOTS }, (_, i) => labSlot((first + i) % LAB_SLOTS));
}
