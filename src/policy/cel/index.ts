/**
 * The CEL layer of the policy engine: compile a `when` or `messageExpression`
 * once, evaluate it per request within a cost budget. See README.md for the
 * library choice, the supported functions and the limits.
 */
export {
  compileCel,
  lastEvaluationCost,
  MAX_SOURCE_LENGTH,
  type CelActivation,
  type CelProgram,
  type CelResult,
  type CompileOptions,
  type CompileResult,
  type SourcePosition,
} from './compile.js';
export { DEFAULT_COST_LIMIT } from './meter.js';
export { prepareActivation, PreparedActivation } from './activation.js';
