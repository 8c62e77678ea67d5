// NetworkPolicy: the evaluator and the reachability matrix, listed by hand.

export { type DnsPolicyCheck, kubeDnsPolicy } from './dns.js';
export {
  type Direction,
  type DirectionVerdict,
  type PolicyConnection,
  type PolicyDecision,
  type PolicyEnd,
  PolicyEngine,
  policyTypesText,
  portText,
  type RuleRef,
  ruleText,
} from './engine.js';
export { type Matrix, matrixPods, reachability, truthTable } from './matrix.js';
