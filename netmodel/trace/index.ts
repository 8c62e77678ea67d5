// Tracing packets through emulated nodes. Public surface, listed by hand.
export { type EnumeratedPath, enumeratePaths } from './enumerate.js';
export { chainMeaning } from './meaning.js';
export {
  type HopJson,
  type OutcomeJson,
  outcomeJson,
  type PacketJson,
  packetJson,
  resultDetail,
} from './report.js';
