import { exitCodes } from '../cli/exit-codes.js';
import { API_VERSION } from '../experiments/schema.js';
import type { GateReport, SuiteReport } from './report-schema.js';
import { type Judgement, resilienceScore, worseOutcome } from './score.js';

/**
 * What `simian gate` decides over its suites: the worst suite outcome (each suite judged with
 * its own minScore), and then the score over every experiment of every suite against
 * `--min-score`. The exit code is the outcome's row of the exit-code table.
 */
export function buildGateReport(options: {
  id: string;
  startedAt: number;
  suites: SuiteReport[];
  minScore?: number;
}): GateReport {
  const { suites, minScore } = options;
  const experiments = suites.flatMap((suite) => suite.steps.filter((step) => step.type === 'experiment'));
  const score = resilienceScore(experiments);
  let judgement: Judgement = { outcome: 'passed', reason: '' };
  for (const suite of suites) {
    const reason = suites.length > 1 ? `${suite.name}: ${suite.reason}` : suite.reason;
    judgement = worseOutcome(judgement, { outcome: suite.outcome, reason });
  }
  if (judgement.outcome === 'passed') {
    const required = experiments.filter((experiment) => experiment.required).length;
    judgement =
      minScore !== undefined && score < minScore
        ? {
            outcome: 'belowMinScore',
            reason: `every required experiment passed, but the score ${score} is below --min-score ${minScore}`,
          }
        : {
            outcome: 'passed',
            reason: `${required} required experiment(s) passed; score ${score}${minScore === undefined ? '' : ` (minimum ${minScore})`}`,
          };
  }
  return {
    apiVersion: API_VERSION,
    kind: 'GateReport',
    id: options.id,
    startedAt: options.startedAt,
    endedAt: Date.now(),
    ...(minScore === undefined ? {} : { minScore }),
    score,
    outcome: judgement.outcome,
    reason: judgement.reason,
    exitCode: exitCodes[judgement.outcome],
    suites,
  };
}
