export { Agent, type AgentOptions, type AgentState } from './agent.js';
export { DockerDriver, type DockerDriverOptions } from './drivers/docker/docker-driver.js';
export {
  type AppliedFault,
  type ExecutorRegistry,
  type FaultExecutor,
  FaultRefusedError,
  type RevertOutcome,
  type TargetDriver,
} from './drivers/driver.js';
export { LABELS_ENV, NAME_LABEL, parseLabels, readProcStat } from './drivers/process/proc.js';
export { ProcessDriver } from './drivers/process/process-driver.js';
export { writeFileDurably } from './durable-file.js';
export {
  type ApplyRequest,
  type ApplyResult,
  FaultRunner,
  type FaultRunnerOptions,
  type RevertedEvent,
  type RevertReason,
  type RevertResult,
} from './faults/fault-runner.js';
export { Ledger, type LedgerEntry } from './ledger/ledger.js';
