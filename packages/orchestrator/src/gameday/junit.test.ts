import { XMLValidator } from 'fast-xml-parser';
import { describe, expect, test } from 'vitest';
import { parseJUnit } from '../../../../test/helpers/junit.js';
import { buildGateReport } from './gate-report.js';
import { renderJUnit } from './junit.js';
import type { ExperimentResult, SuiteReport } from './report-schema.js';
import { experimentResult } from './results.fixtures.js';

function experiment(
  name: string,
  status: ExperimentResult['status'],
  extra: Partial<ExperimentResult> = {},
): ExperimentResult {
  return experimentResult(name, status, {
    file: `experiments/${name}.yaml`,
    reason: `${status}`,
    ...(status === 'skipped' ? {} : { startedAt: 1_000, endedAt: 3_500, runId: `run-${name}` }),
    ...extra,
  });
}

function suite(name: string, steps: SuiteReport['steps'], outcome: SuiteReport['outcome']): SuiteReport {
  return {
    apiVersion: 'simian.dev/v1alpha1',
    kind: 'GameDayReport',
    id: `id-${name}`,
    name,
    onFailure: 'stop',
    startedAt: 1_000,
    endedAt: 9_000,
    outcome,
    reason: 'because',
    score: 33.3,
    steps,
  };
}

interface ParsedCase {
  classname: string;
  name: string;
  time: string;
  file: string;
  failure?: { message: string; type: string; text: string };
  error?: { message: string; type: string; text: string };
  skipped?: { message: string };
}

describe('renderJUnit', () => {
  const tricky = 'web-up: status 500, expected 200 & body "<ok/>" isn\'t\nthere\u0007';
  const report = buildGateReport({
    id: 'gate-1',
    startedAt: 0,
    suites: [
      suite(
        'storefront',
        [
          experiment('kill-one', 'passed'),
          { type: 'pause', index: 1, duration: '1s', status: 'done' },
          experiment('pause-all', 'failed', {
            index: 2,
            reason: 'steady state did not come back within 2s of the fault ending',
            failures: [
              {
                probe: 'web-up',
                phase: 'recovery',
                reason: 'did not come back: 0 of 4 attempts after the revert succeeded',
              },
            ],
            journal: '/tmp/r/journals/run-pause-all.json',
          }),
          experiment('latency', 'aborted', { index: 3, reason: tricky }),
          experiment('stop-one', 'skipped', {
            index: 4,
            reason: 'not run: the game day stopped after pause-all failed (onFailure: stop)',
          }),
        ],
        'failed',
      ),
      suite(
        'simian',
        [
          experiment('no-agent', 'error', {
            reason: 'no agent offers the docker driver',
            error: { code: 'SIMIAN_NO_AGENTS', message: 'no agent offers the docker driver' },
          }),
        ],
        'error',
      ),
    ],
  });
  const xml = renderJUnit(report);

  test('is well-formed XML', () => {
    expect(XMLValidator.validate(xml)).toBe(true);
  });

  test('one testsuite per suite and one testcase per experiment, with counts', () => {
    const parsed = parseJUnit(xml) as {
      testsuites: {
        tests: string;
        failures: string;
        errors: string;
        skipped: string;
        testsuite: Array<Record<string, unknown>>;
      };
    };
    expect(parsed.testsuites).toMatchObject({ tests: '5', failures: '2', errors: '1', skipped: '1' });
    const [storefront, loose] = parsed.testsuites.testsuite;
    expect(storefront).toMatchObject({
      name: 'storefront',
      tests: '4',
      failures: '2',
      errors: '0',
      skipped: '1',
    });
    expect(loose).toMatchObject({ name: 'simian', tests: '1', errors: '1' });
    const cases = (storefront?.testcase as ParsedCase[]).map((c) => ({
      classname: c.classname,
      name: c.name,
      time: c.time,
    }));
    expect(cases).toEqual([
      { classname: 'storefront', name: 'kill-one', time: '2.500' },
      { classname: 'storefront', name: 'pause-all', time: '2.500' },
      { classname: 'storefront', name: 'latency', time: '2.500' },
      { classname: 'storefront', name: 'stop-one', time: '0.000' },
    ]);
  });

  test('failures name the probe and why; errors carry the code; skipped says why; text survives escaping', () => {
    const parsed = parseJUnit(xml) as { testsuites: { testsuite: Array<{ testcase: ParsedCase[] }> } };
    const [storefront, loose] = parsed.testsuites.testsuite;
    const [passed, failed, aborted, skipped] = storefront?.testcase ?? [];
    expect(passed?.failure).toBeUndefined();
    expect(failed?.failure).toMatchObject({
      type: 'failed',
      message:
        'steady state did not come back within 2s of the fault ending (web-up recovery: did not come back: 0 of 4 attempts after the revert succeeded)',
    });
    expect(failed?.failure?.text).toContain('journal: /tmp/r/journals/run-pause-all.json');
    // Quotes, ampersands, angle brackets and the line break come back as written; the control
    // character XML cannot hold is replaced.
    expect(aborted?.failure).toMatchObject({ type: 'aborted', message: tricky.replace('\u0007', '\ufffd') });
    expect(skipped?.skipped?.message).toBe(
      'not run: the game day stopped after pause-all failed (onFailure: stop)',
    );
    expect(loose?.testcase[0]?.error).toMatchObject({
      type: 'SIMIAN_NO_AGENTS',
      message: 'no agent offers the docker driver',
    });
  });
});
