// Results and journals for the game-day unit tests, which state only what they vary.
import type { Journal } from '../runner/journal.js';
import type { ExperimentResult } from './report-schema.js';

/** A required experiment step of weight 1 with no probe failures. */
export function experimentResult(
  name: string,
  status: ExperimentResult['status'],
  extra: Partial<ExperimentResult> = {},
): ExperimentResult {
  return {
    type: 'experiment',
    index: 0,
    name,
    file: `${name}.yaml`,
    required: true,
    weight: 1,
    status,
    reason: `${name} ${status}`,
    failures: [],
    ...extra,
  };
}

/** A failed run journal with no phases, targets, faults, probes or samples. */
export function emptyJournal(extra: Partial<Journal> = {}): Journal {
  return {
    apiVersion: 'simian.dev/v1alpha1',
    kind: 'RunJournal',
    runId: 'r1',
    experiment: { name: 'x' },
    seed: 1,
    startedAt: 0,
    endedAt: 1,
    verdict: 'failed',
    reason: '',
    phases: [],
    candidates: 1,
    targets: [],
    faults: [],
    probes: [],
    timeToRecoverMs: null,
    samples: [],
    ...extra,
  };
}
