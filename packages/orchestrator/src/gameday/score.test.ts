import { describe, expect, test } from 'vitest';
import { emptyJournal as journal, experimentResult as result } from './results.fixtures.js';
import { failureMessage, judgeSuite, probeFailures, resilienceScore } from './score.js';

describe('resilienceScore: 100 × Σ weight(passed) / Σ weight(all)', () => {
  test('every experiment counts, whatever its verdict; skipped counts 0', () => {
    expect(resilienceScore([result('a', 'passed'), result('b', 'passed')])).toBe(100);
    expect(resilienceScore([result('a', 'passed'), result('b', 'failed'), result('c', 'skipped')])).toBe(
      33.3,
    );
    expect(resilienceScore([result('a', 'aborted'), result('b', 'error')])).toBe(0);
  });

  test('weights scale each experiment, required or not', () => {
    expect(
      resilienceScore([
        result('a', 'passed', { weight: 3 }),
        result('b', 'failed', { weight: 1, required: false }),
      ]),
    ).toBe(75);
    expect(
      resilienceScore([result('a', 'passed', { weight: 0.5 }), result('b', 'failed', { weight: 2 })]),
    ).toBe(20);
    expect(resilienceScore([])).toBe(0);
  });
});

describe('judgeSuite', () => {
  test('only required experiments decide; the worst wins (error > aborted > failed)', () => {
    const optionalFailure = result('opt', 'error', { required: false });
    expect(judgeSuite([result('a', 'passed'), optionalFailure], 50, undefined)).toEqual({
      outcome: 'passed',
      reason: '1 required experiment(s) passed; score 50',
    });
    expect(
      judgeSuite([result('a', 'failed'), result('b', 'aborted'), result('c', 'failed')], 0, undefined),
    ).toEqual({
      outcome: 'aborted',
      reason: 'b was aborted: b aborted',
    });
    expect(judgeSuite([result('a', 'aborted'), result('b', 'error')], 0, undefined).outcome).toBe('error');
    expect(judgeSuite([result('a', 'failed'), result('b', 'skipped')], 0, undefined)).toEqual({
      outcome: 'failed',
      reason: 'a failed its hypothesis: a failed',
    });
  });

  test('a score below minScore is its own outcome, only when every required experiment passed', () => {
    const results = [result('a', 'passed'), result('b', 'failed', { required: false })];
    expect(judgeSuite(results, 50, 80)).toEqual({
      outcome: 'belowMinScore',
      reason: 'every required experiment passed, but the score 50 is below the minimum 80',
    });
    expect(judgeSuite(results, 50, 50).outcome).toBe('passed');
    expect(judgeSuite([result('a', 'failed')], 0, 80).outcome).toBe('failed');
  });

  test('an operator halt makes the suite aborted at least', () => {
    expect(judgeSuite([result('a', 'passed')], 100, undefined, 'halted by the operator')).toEqual({
      outcome: 'aborted',
      reason: 'halted by the operator',
    });
    expect(judgeSuite([result('a', 'error')], 0, undefined, 'halted by the operator').outcome).toBe('error');
  });
});

describe('probeFailures and failureMessage name the probe that broke the hypothesis', () => {
  test('judgements that missed before or during the fault', () => {
    const failed = journal({
      reason: 'hypothesis violated during the fault: web-up: success rate 0.10 below 0.95 (20 samples)',
      probes: [
        {
          name: 'web-up',
          before: { ok: true, samples: 5, successRate: 1 },
          during: {
            ok: false,
            samples: 20,
            successRate: 0.1,
            reason: 'success rate 0.10 below 0.95 (20 samples)',
          },
        },
        { name: 'db-up', during: { ok: true, samples: 20, successRate: 1 } },
      ],
    });
    const failures = probeFailures(failed);
    expect(failures).toEqual([
      { probe: 'web-up', phase: 'during', reason: 'success rate 0.10 below 0.95 (20 samples)' },
    ]);
    // The reason already names the probe: nothing to add.
    expect(failureMessage({ reason: failed.reason, failures })).toBe(failed.reason);
  });

  test('no recovery: the probes without three successes in a row after the revert', () => {
    const sample = (ok: boolean, at: number) => ({
      probe: 'web-up',
      phase: 'after' as const,
      at,
      latencyMs: 1,
      ok,
      ...(ok ? {} : { error: 'connection refused' }),
    });
    const failed = journal({
      reason: 'steady state did not come back within 2s of the fault ending',
      probes: [{ name: 'web-up' }],
      samples: [sample(true, 1), sample(false, 2), sample(true, 3), sample(true, 4), sample(false, 5)],
    });
    const failures = probeFailures(failed);
    expect(failures).toEqual([
      {
        probe: 'web-up',
        phase: 'recovery',
        reason:
          'did not come back: 3 of 5 attempts after the revert succeeded, last error: connection refused',
      },
    ]);
    expect(failureMessage({ reason: failed.reason, failures })).toBe(
      'steady state did not come back within 2s of the fault ending (web-up recovery: did not come back: 3 of 5 attempts after the revert succeeded, last error: connection refused)',
    );
  });

  test('a stop condition names its probe; a passed run has no failures', () => {
    expect(
      probeFailures(
        journal({
          verdict: 'aborted',
          reason: 'stop condition met: web-up success rate 0.20 below 0.5 over 3s; faults reverted at once',
          stopCondition: { probe: 'web-up', successRate: 0.2, at: 5 },
        }),
      ),
    ).toEqual([{ probe: 'web-up', phase: 'during', reason: 'stop condition met: success rate 0.20' }]);
    expect(
      probeFailures(
        journal({
          verdict: 'passed',
          probes: [{ name: 'a', after: { ok: false, samples: 1, successRate: 0 } }],
        }),
      ),
    ).toEqual([]);
  });
});
