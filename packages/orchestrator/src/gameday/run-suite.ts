import { isSimianError } from '@simian/protocol';
import { API_VERSION } from '../experiments/schema.js';
import type { Journal } from '../runner/journal.js';
import { sleep } from '../runner/sleep.js';
import type { PlannedExperiment, PlannedStep } from './load.js';
import type { ExperimentResult, StepResult, SuiteReport } from './report-schema.js';
import type { OnFailure } from './schema.js';
import { judgeSuite, probeFailures, resilienceScore } from './score.js';

/** A game day, or the experiments given to `simian gate`, ready to run in order. */
export interface Suite {
  id: string;
  name: string;
  file?: string;
  description?: string;
  onFailure: OnFailure;
  minScore?: number;
  steps: PlannedStep[];
}

export interface ExperimentRun {
  journal: Journal;
  /** Where the journal was written. */
  journalPath: string;
}

/** Who answered an approval step. */
export type Approver = 'operator' | '--yes';

export interface SuiteHooks {
  /**
   * Runs one experiment to its journal. Aborting `signal` halts the run (its faults are
   * reverted at once) and still resolves with its journal when the orchestrator sends one.
   * @throws SimianError when the tool cannot run it (orchestrator unreachable, cancelled, ...).
   */
  runExperiment(step: PlannedExperiment, signal: AbortSignal): Promise<ExperimentRun>;
  /** Asks the operator; resolves false when they decline. */
  approve(message: string, signal: AbortSignal): Promise<{ approved: boolean; by: Approver }>;
  stepStarted?(step: PlannedStep, position: number, total: number): void;
  stepFinished?(result: StepResult): void;
}

/**
 * Runs the steps of a suite in order and reports on every one of them, also on those skipped.
 * The suite stops early when a required experiment does not pass and `onFailure` is `stop`,
 * when an approval is declined, and when `signal` aborts (Ctrl-C): the current run is halted
 * through the hook, and the steps after it are recorded as skipped.
 */
export async function runSuite(suite: Suite, hooks: SuiteHooks, signal: AbortSignal): Promise<SuiteReport> {
  const startedAt = Date.now();
  const results: StepResult[] = [];
  /** Why the remaining steps are skipped. */
  let stoppedBecause: string | undefined;
  /** Set when the operator ended the suite: the outcome is at least aborted. */
  let interrupted: string | undefined;
  const experimentCount = suite.steps.filter((step) => step.type === 'experiment').length;
  let position = 0;
  for (const step of suite.steps) {
    if (step.type === 'experiment') position += 1;
    if (stoppedBecause === undefined && signal.aborted) {
      interrupted = 'halted by the operator; the remaining steps were skipped';
      stoppedBecause = 'halted by the operator';
    }
    if (stoppedBecause !== undefined) {
      const skipped = skippedResult(step, `not run: ${stoppedBecause}`);
      results.push(skipped);
      hooks.stepFinished?.(skipped);
      continue;
    }
    hooks.stepStarted?.(step, position, experimentCount);
    let result: StepResult;
    switch (step.type) {
      case 'approval': {
        const answer = await hooks.approve(step.message, signal);
        result = {
          type: 'approval',
          index: step.index,
          message: step.message,
          status: answer.approved ? 'approved' : 'declined',
          ...(answer.approved ? { by: answer.by } : {}),
          at: Date.now(),
        };
        if (!answer.approved) {
          const why = signal.aborted
            ? 'halted by the operator'
            : `the operator declined step ${step.index + 1}`;
          interrupted = `${why}; the remaining steps were skipped`;
          stoppedBecause = why;
        }
        break;
      }
      case 'pause': {
        const pausedAt = Date.now();
        await sleep(step.durationMs, signal);
        result = {
          type: 'pause',
          index: step.index,
          duration: step.duration,
          ...(step.reason === undefined ? {} : { reason: step.reason }),
          status: signal.aborted ? 'interrupted' : 'done',
          startedAt: pausedAt,
          endedAt: Date.now(),
        };
        break;
      }
      case 'experiment': {
        const experiment = await runOne(step, hooks, signal);
        result = experiment;
        if (signal.aborted) break;
        if (experiment.required && experiment.status !== 'passed' && suite.onFailure === 'stop') {
          stoppedBecause = `the game day stopped after ${experiment.name} ${experiment.status === 'failed' ? 'failed' : experiment.status === 'error' ? 'errored' : 'was aborted'} (onFailure: stop)`;
        }
        break;
      }
    }
    results.push(result);
    hooks.stepFinished?.(result);
  }
  if (signal.aborted && interrupted === undefined)
    interrupted = 'halted by the operator; the remaining steps were skipped';
  const experiments = results.filter((result) => result.type === 'experiment');
  const score = resilienceScore(experiments);
  const judgement = judgeSuite(experiments, score, suite.minScore, interrupted);
  return {
    apiVersion: API_VERSION,
    kind: 'GameDayReport',
    id: suite.id,
    name: suite.name,
    ...(suite.file === undefined ? {} : { file: suite.file }),
    ...(suite.description === undefined ? {} : { description: suite.description }),
    onFailure: suite.onFailure,
    ...(suite.minScore === undefined ? {} : { minScore: suite.minScore }),
    startedAt,
    endedAt: Date.now(),
    outcome: judgement.outcome,
    reason: judgement.reason,
    score,
    steps: results,
  };
}

async function runOne(
  step: PlannedExperiment,
  hooks: SuiteHooks,
  signal: AbortSignal,
): Promise<ExperimentResult> {
  const base = {
    type: 'experiment' as const,
    index: step.index,
    name: step.name,
    file: step.file,
    required: step.required,
    weight: step.weight,
  };
  const startedAt = Date.now();
  try {
    const { journal, journalPath } = await hooks.runExperiment(step, signal);
    return {
      ...base,
      status: journal.verdict,
      reason: journal.reason,
      runId: journal.runId,
      journal: journalPath,
      startedAt: journal.startedAt,
      endedAt: journal.endedAt,
      failures: probeFailures(journal),
      ...(journal.error === undefined ? {} : { error: journal.error }),
      ...(journal.stopCondition === undefined ? {} : { stopCondition: journal.stopCondition }),
      timeToRecoverMs: journal.timeToRecoverMs,
      targets: journal.targets.map((target) => target.name),
    };
  } catch (error) {
    if (!isSimianError(error)) throw error;
    const cancelled = error.code === 'SIMIAN_RUN_CANCELLED';
    return {
      ...base,
      status: cancelled ? 'aborted' : 'error',
      reason: error.message,
      startedAt,
      endedAt: Date.now(),
      failures: [],
      error: { code: error.code, message: error.message },
    };
  }
}

function skippedResult(step: PlannedStep, reason: string): StepResult {
  switch (step.type) {
    case 'approval':
      return { type: 'approval', index: step.index, message: step.message, status: 'skipped' };
    case 'pause':
      return {
        type: 'pause',
        index: step.index,
        duration: step.duration,
        ...(step.reason === undefined ? {} : { reason: step.reason }),
        status: 'skipped',
      };
    case 'experiment':
      return {
        type: 'experiment',
        index: step.index,
        name: step.name,
        file: step.file,
        required: step.required,
        weight: step.weight,
        status: 'skipped',
        reason,
        failures: [],
      };
  }
}
