// kpath lab: self-checking troubleshooting labs (examples/labs), listed by hand.
export {
  LAB_FILE,
  type Lab,
  labNames,
  labsRoot,
  loadAllLabs,
  loadLab,
  SOLUTION_FILE,
  TASK_FILE,
} from './catalog.js';
export { CHECK_KINDS } from './checks/index.js';
export { applyPatch, type FilePatch, type Hunk, PatchConflict, parsePatch } from './patch.js';
export { freshProgress, type Progress, progressPath, readProgress, writeProgress } from './progress.js';
export {
  type CheckReport,
  type CheckResult,
  MAX_EVENTS,
  MAX_SETTLE_MS,
  PROBE_TIME_SCALE,
  prepareChecks,
  type RunOptions,
  runChecks,
} from './run.js';
export { LAB_SLOTS, labSlot, labSlots } from './slots.js';
export { DIFFICULTIES, type Difficulty, type LabSpec, parseLabSpec, TOPICS, type Topic } from './spec.js';
