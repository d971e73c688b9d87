export { type CommandProbeSpec, runCommandProbe } from './command-probe.js';
export { type HttpProbeSpec, runHttpProbe } from './http-probe.js';
export type { Phase, ProbeAttempt, ProbeSample } from './probe-sample.js';
export { ProbeSampler, type ProbeSamplerOptions, type SamplerState } from './probe-sampler.js';
export { runProbe } from './run-probe.js';
export {
  checkStopCondition,
  findRecovery,
  groupByProbe,
  judgeTolerance,
  type ProbeSummary,
  percentile,
  STOP_CONDITION_MIN_SAMPLES,
  type StopConditionCheck,
  summarizeProbe,
  type Tolerance,
  type ToleranceJudgement,
} from './tolerance.js';
