import type { Journal } from '../runner/journal.js';
import type { ExperimentResult, ExperimentStatus, Outcome, ProbeFailure } from './report-schema.js';

/** Successes in a row that count as recovered; the runner's rule (docs/experiments.md). */
const RECOVERY_STREAK = 3;

/**
 * The resilience score, 0 to 100: the weighted share of experiments that passed.
 *
 *   score = 100 × Σ weight(passed) / Σ weight(all experiments)
 *
 * Every experiment counts, required or not; one that failed, was aborted, errored or was skipped
 * counts 0. Rounded to one decimal. Per-experiment outcome (as Gremlin scores) rather than
 * per-probe success (as LitmusChaos does): a run whose probes held 90% of the time still broke
 * its hypothesis, and the verdict already weighs the probes against their tolerances.
 */
export function resilienceScore(results: readonly Pick<ExperimentResult, 'status' | 'weight'>[]): number {
  const total = results.reduce((sum, result) => sum + result.weight, 0);
  if (total === 0) return 0;
  const passed = results
    .filter((result) => result.status === 'passed')
    .reduce((sum, result) => sum + result.weight, 0);
  return Math.round((1_000 * passed) / total) / 10;
}

/** Worse first: error > aborted > failed > belowMinScore > passed. */
const OUTCOME_RANK: Record<Outcome, number> = {
  passed: 0,
  belowMinScore: 1,
  failed: 2,
  aborted: 3,
  error: 4,
};

/** The worse of two outcomes; on a tie the first (earlier) one. */
export function worseOutcome<T extends { outcome: Outcome }>(a: T, b: T): T {
  return OUTCOME_RANK[b.outcome] > OUTCOME_RANK[a.outcome] ? b : a;
}

export interface Judgement {
  outcome: Outcome;
  reason: string;
}

/**
 * How a suite of experiments ends. Only required experiments decide it, the worst verdict
 * winning (error > aborted > failed); an operator halt or a declined approval (`interrupted`)
 * makes it at least aborted. When all that holds, a score below `minScore` is its own outcome.
 */
export function judgeSuite(
  results: readonly ExperimentResult[],
  score: number,
  minScore: number | undefined,
  interrupted?: string,
): Judgement {
  let judgement: Judgement = { outcome: 'passed', reason: '' };
  if (interrupted !== undefined) judgement = { outcome: 'aborted', reason: interrupted };
  for (const result of results) {
    // A skipped step was skipped because of another one, which decides the outcome.
    if (!result.required || result.status === 'passed' || result.status === 'skipped') continue;
    judgement = worseOutcome(judgement, statusJudgement({ ...result, status: result.status }));
  }
  if (judgement.outcome !== 'passed') return judgement;
  if (minScore !== undefined && score < minScore) {
    return {
      outcome: 'belowMinScore',
      reason: `every required experiment passed, but the score ${score} is below the minimum ${minScore}`,
    };
  }
  const required = results.filter((result) => result.required).length;
  return {
    outcome: 'passed',
    reason: `${required} required experiment(s) passed; score ${score}${minScore === undefined ? '' : ` (minimum ${minScore})`}`,
  };
}

function statusJudgement(result: ExperimentResult & { status: 'failed' | 'aborted' | 'error' }): Judgement {
  return {
    outcome: result.status,
    reason: `${result.name} ${describeStatus(result.status)}: ${failureMessage(result)}`,
  };
}

function describeStatus(status: ExperimentStatus): string {
  switch (status) {
    case 'failed':
      return 'failed its hypothesis';
    case 'aborted':
      return 'was aborted';
    case 'error':
      return 'could not be run';
    case 'skipped':
      return 'was not run';
    case 'passed':
      return 'passed';
  }
}

/**
 * One line on why an experiment did not pass, naming the probe: the journal's reason, and the
 * probes that missed when the reason does not name them (e.g. "did not come back within 5s").
 */
export function failureMessage(result: Pick<ExperimentResult, 'reason' | 'failures'>): string {
  const unnamed = result.failures.filter((failure) => !result.reason.includes(failure.probe));
  if (unnamed.length === 0) return result.reason;
  return `${result.reason} (${unnamed.map(describeFailure).join('; ')})`;
}

export function describeFailure(failure: ProbeFailure): string {
  return `${failure.probe} ${failure.phase}: ${failure.reason}`;
}

/** The probes that broke the hypothesis of a run that did not pass, from its journal. */
export function probeFailures(journal: Journal): ProbeFailure[] {
  if (journal.verdict === 'passed') return [];
  const failures: ProbeFailure[] = [];
  for (const probe of journal.probes) {
    for (const phase of ['before', 'during'] as const) {
      const judgement = probe[phase];
      if (judgement && !judgement.ok)
        failures.push({ probe: probe.name, phase, reason: judgement.reason ?? 'tolerance not met' });
    }
  }
  if (journal.stopCondition) {
    failures.push({
      probe: journal.stopCondition.probe,
      phase: 'during',
      reason: `stop condition met: success rate ${journal.stopCondition.successRate.toFixed(2)}`,
    });
  }
  if (journal.verdict === 'failed' && journal.reason.startsWith('steady state did not come back')) {
    failures.push(...recoveryFailures(journal));
  }
  return failures;
}

/** Probes without the run of successes that counts as recovered after the revert. */
function recoveryFailures(journal: Journal): ProbeFailure[] {
  const failures: ProbeFailure[] = [];
  for (const probe of journal.probes) {
    const after = journal.samples.filter((sample) => sample.probe === probe.name && sample.phase === 'after');
    let streak = 0;
    let best = 0;
    for (const sample of after) {
      streak = sample.ok ? streak + 1 : 0;
      best = Math.max(best, streak);
    }
    if (best >= RECOVERY_STREAK) continue;
    const ok = after.filter((sample) => sample.ok).length;
    const lastError = after.findLast((sample) => !sample.ok)?.error;
    failures.push({
      probe: probe.name,
      phase: 'recovery',
      reason: `did not come back: ${ok} of ${after.length} attempts after the revert succeeded${lastError === undefined ? '' : `, last error: ${lastError}`}`,
    });
  }
  return failures;
}
