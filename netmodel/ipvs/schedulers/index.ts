// The IPVS schedulers, one per kernel module. Public surface, listed by hand.
import { ErrorCodes, KpathError } from '../../errors.js';
import type { Rng } from '../../rng.js';
import type { IpvsSchedulerName } from '../types.js';
import { LocalityLeastConnection } from './lblc.js';
import { LeastConnection } from './least.js';
import { MaglevHash } from './mh.js';
import { RoundRobin } from './rr.js';
import { DestinationHash, SourceHash } from './sh.js';
import { TwoChoices } from './twos.js';
import type { Scheduler } from './types.js';
import { WeightedRoundRobin } from './wrr.js';

export { LBLC_DEFAULT_EXPIRATION_MS, LocalityLeastConnection } from './lblc.js';
export { LeastConnection } from './least.js';
export {
  MaglevHash,
  MH_HASH1,
  MH_HASH2,
  MH_PRIMES,
  MH_TAB_BITS,
  MH_TAB_SIZE,
  mhHashKey,
  mhPermutation,
  mhPopulate,
} from './mh.js';
export { RoundRobin } from './rr.js';
export { DestinationHash, dhHashKey, SH_TAB_SIZE, SourceHash, shHashKey } from './sh.js';
export { TwoChoices } from './twos.js';
export type {
  ComparedDest,
  SchedExplanation,
  SchedPacket,
  SchedResult,
  SchedService,
  Scheduler,
} from './types.js';
export { pickDest } from './types.js';
export { WeightedRoundRobin } from './wrr.js';

/** A fresh scheduler instance for a service (init_service); twos needs the table's seeded Rng. */
export function createScheduler(name: IpvsSchedulerName, rng?: Rng): Scheduler {
  switch (name) {
    case 'rr':
      return new RoundRobin();
    case 'wrr':
      return new WeightedRoundRobin();
    case 'lc':
    case 'wlc':
    case 'sed':
    case 'nq':
    case 'fo':
    case 'ovf':
      return new LeastConnection(name);
    case 'sh':
      return new SourceHash();
    case 'dh':
      return new DestinationHash();
    case 'mh':
      return new MaglevHash();
    case 'lblc':
    case 'lblcr':
      return new LocalityLeastConnection(name);
    case 'twos':
      if (!rng)
        throw new KpathError(
          ErrorCodes.USAGE,
          'ipvs scheduler "twos" draws random numbers: give the table a seeded rng (new IpvsTable({ rng }))',
        );
      return new TwoChoices(rng);
  }
}
