import { SimianError } from '@simian/protocol';
import { describe, expect, test } from 'vitest';
import type { Journal, Verdict } from '../runner/journal.js';
import { renderSuiteHtml } from './html.js';
import type { PlannedExperiment, PlannedStep } from './load.js';
import { renderGameDayMarkdown } from './markdown.js';
import { emptyJournal } from './results.fixtures.js';
import { runSuite, type Suite, type SuiteHooks } from './run-suite.js';

function experimentStep(
  index: number,
  name: string,
  extra: Partial<PlannedExperiment> = {},
): PlannedExperiment {
  return {
    type: 'experiment',
    index,
    name,
    file: `${name}.yaml`,
    source: '',
    // The runner hands the step to the hook; only the hook looks at the experiment.
    experiment: undefined as unknown as PlannedExperiment['experiment'],
    required: true,
    weight: 1,
    ...extra,
  };
}

function journalOf(name: string, verdict: Verdict): Journal {
  return emptyJournal({
    runId: `run-${name}`,
    experiment: { name },
    startedAt: 10,
    endedAt: 20,
    verdict,
    reason: `${name} ${verdict}`,
  });
}

/** Hooks that give each experiment the verdict listed for it and record what ran. */
function hooks(verdicts: Record<string, Verdict | SimianError>, answers: boolean[] = []) {
  const ran: string[] = [];
  const value: SuiteHooks = {
    runExperiment: async (step) => {
      ran.push(step.name);
      const verdict = verdicts[step.name] ?? 'passed';
      if (verdict instanceof SimianError) throw verdict;
      return { journal: journalOf(step.name, verdict), journalPath: `/j/${step.name}.json` };
    },
    approve: async () => ({ approved: answers.shift() ?? true, by: 'operator' }),
  };
  return { value, ran };
}

function suiteOf(steps: PlannedStep[], onFailure: Suite['onFailure']): Suite {
  return { id: 'gd-1', name: 'gd', onFailure, steps };
}

const three = [experimentStep(0, 'one'), experimentStep(1, 'two'), experimentStep(2, 'three')];

describe('runSuite', () => {
  test('onFailure stop: a required experiment that fails skips the rest', async () => {
    const { value, ran } = hooks({ two: 'failed' });
    const report = await runSuite(suiteOf(three, 'stop'), value, new AbortController().signal);
    expect(ran).toEqual(['one', 'two']);
    expect(report.steps.map((step) => (step.type === 'experiment' ? [step.name, step.status] : []))).toEqual([
      ['one', 'passed'],
      ['two', 'failed'],
      ['three', 'skipped'],
    ]);
    expect(report.steps[2]).toMatchObject({
      reason: 'not run: the game day stopped after two failed (onFailure: stop)',
    });
    expect(report).toMatchObject({
      outcome: 'failed',
      reason: 'two failed its hypothesis: two failed',
      score: 33.3,
    });
  });

  test('onFailure continue: every step runs', async () => {
    const { value, ran } = hooks({ two: 'failed' });
    const report = await runSuite(suiteOf(three, 'continue'), value, new AbortController().signal);
    expect(ran).toEqual(['one', 'two', 'three']);
    expect(report).toMatchObject({ outcome: 'failed', score: 66.7 });
  });

  test('an experiment that is not required neither stops the suite nor fails it', async () => {
    const steps = [experimentStep(0, 'one', { required: false }), experimentStep(1, 'two')];
    const { value, ran } = hooks({ one: 'failed' });
    const report = await runSuite(
      { ...suiteOf(steps, 'stop'), minScore: 40 },
      value,
      new AbortController().signal,
    );
    expect(ran).toEqual(['one', 'two']);
    expect(report).toMatchObject({ outcome: 'passed', score: 50 });
    const strict = await runSuite(
      { ...suiteOf(steps, 'stop'), minScore: 60 },
      hooks({ one: 'failed' }).value,
      new AbortController().signal,
    );
    expect(strict.outcome).toBe('belowMinScore');
  });

  test('a tool error is the step status error, with its code', async () => {
    const { value } = hooks({
      one: new SimianError('SIMIAN_ORCHESTRATOR_UNREACHABLE', 'cannot reach the orchestrator'),
    });
    const report = await runSuite(suiteOf(three, 'stop'), value, new AbortController().signal);
    expect(report.steps[0]).toMatchObject({
      status: 'error',
      error: { code: 'SIMIAN_ORCHESTRATOR_UNREACHABLE', message: 'cannot reach the orchestrator' },
    });
    expect(report.outcome).toBe('error');
  });

  test('a declined approval ends the suite as aborted; pauses are waited', async () => {
    const steps: PlannedStep[] = [
      experimentStep(0, 'one'),
      { type: 'pause', index: 1, duration: '10ms', durationMs: 10 },
      { type: 'approval', index: 2, message: 'go on?' },
      experimentStep(3, 'two'),
    ];
    const { value, ran } = hooks({}, [false]);
    const report = await runSuite(suiteOf(steps, 'continue'), value, new AbortController().signal);
    expect(ran).toEqual(['one']);
    expect(report.steps.map((step) => step.status)).toEqual(['passed', 'done', 'declined', 'skipped']);
    expect(report).toMatchObject({
      outcome: 'aborted',
      reason: 'the operator declined step 3; the remaining steps were skipped',
    });
  });

  test('an operator halt during a run skips every step after it and aborts the suite', async () => {
    const controller = new AbortController();
    const { value, ran } = hooks({});
    const halting: SuiteHooks = {
      ...value,
      runExperiment: async (step, signal) => {
        if (step.name === 'two') {
          controller.abort();
          expect(signal.aborted).toBe(true);
          return { journal: journalOf('two', 'aborted'), journalPath: '/j/two.json' };
        }
        return value.runExperiment(step, signal);
      },
    };
    const report = await runSuite(suiteOf(three, 'continue'), halting, controller.signal);
    expect(ran).toEqual(['one']);
    expect(report.steps.map((step) => step.status)).toEqual(['passed', 'aborted', 'skipped']);
    expect(report.steps[2]).toMatchObject({ reason: 'not run: halted by the operator' });
    expect(report.outcome).toBe('aborted');
    const markdown = renderGameDayMarkdown(report);
    expect(markdown).toContain('# Game day gd: ⚠️ aborted');
    expect(markdown).toContain('| ⏭️ | three | yes | 1 | skipped | – | not run: halted by the operator |');
    const html = renderSuiteHtml(report, new Map([['run-one', journalOf('one', 'passed')]]));
    expect(html).toContain('<a href="#run-run-one">run-one</a>');
    expect(html).toContain('not run: halted by the operator');
  });
});
