import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { runCli, startCli } from '../helpers/cli.js';
import { dockerAvailable } from '../helpers/docker-fixtures.js';
import { eventually } from '../helpers/wait.js';
import { inlineYaml, type WebFleet, webFleetPerTest } from '../helpers/web-fleet.js';

interface Report {
  outcome: string;
  reason: string;
  score: number;
  steps: Array<{
    type: string;
    name?: string;
    status: string;
    reason?: string;
    runId?: string;
    journal?: string;
    failures?: Array<{ probe: string; phase: string }>;
  }>;
}

interface Journal {
  verdict: string;
  faults: Array<{ fault: { type: string }; revertOutcome?: string }>;
}

const readJson = async <T>(path: string): Promise<T> => JSON.parse(await readFile(path, 'utf8')) as T;

/**
 * Three experiments in a row against one fleet: pausing one replica (the balancer routes around
 * it), pausing every replica (the storefront goes down: the hypothesis fails), then an inline
 * stop of one replica. Every fault has a revert, so a complete revert leaves every container
 * running and unpaused.
 */
async function writeGameDay(fleet: WebFleet, onFailure: 'stop' | 'continue'): Promise<string> {
  await fleet.write(
    'pause-one.yaml',
    fleet.experiment({ name: 'pause-one', fault: 'type: pause', duration: '2s' }),
  );
  await fleet.write(
    'pause-all.yaml',
    fleet.experiment({ name: 'pause-all', fault: 'type: pause', mode: 'all', duration: '2s' }),
  );
  const stopOne = fleet.experiment({
    name: 'stop-one',
    fault: '{ type: stop, timeout: 1s }',
    duration: '1s',
  });
  return fleet.write(
    `game-day-${onFailure}.yaml`,
    [
      'apiVersion: simian.dev/v1alpha1',
      'kind: GameDay',
      'metadata:',
      `  name: e2e-${onFailure}`,
      'spec:',
      `  onFailure: ${onFailure}`,
      '  steps:',
      '    - experiment: pause-one.yaml',
      '    - experiment: pause-all.yaml',
      '    - pause: 500ms',
      '      reason: let the balancer settle',
      '    - inline:',
      inlineYaml(stopOne),
      '',
    ].join('\n'),
  );
}

describe.skipIf(!dockerAvailable())('simian gameday against real containers', () => {
  const fleet = webFleetPerTest(3);

  it('onFailure stop: the failing middle step skips the rest; its faults are reverted', async () => {
    const f = await fleet();
    const file = await writeGameDay(f, 'stop');
    const reportDir = join(f.dir, 'report');
    const result = await runCli(['gameday', file, '--report', reportDir], { env: f.env });
    expect(result.code).toBe(1);
    // Not a terminal: plain lines, no redraw.
    expect(result.stdout).not.toContain('\x1b[');
    expect(result.stdout).toContain('step 1/4 experiment 1/3 pause-one');
    expect(result.stdout).toMatch(
      /step 4\/4 stop-one SKIPPED not run: the game day stopped after pause-all failed/,
    );
    const report = await readJson<Report>(join(reportDir, 'report.json'));
    expect(report.steps.map((step) => [step.type, step.name, step.status])).toEqual([
      ['experiment', 'pause-one', 'passed'],
      ['experiment', 'pause-all', 'failed'],
      ['pause', undefined, 'skipped'],
      ['experiment', 'stop-one', 'skipped'],
    ]);
    expect(report).toMatchObject({ outcome: 'failed', score: 33.3 });
    expect(report.reason).toMatch(
      /^pause-all failed its hypothesis: hypothesis violated during the fault: web-up:/,
    );
    expect(report.steps[1]?.failures).toEqual([
      expect.objectContaining({ probe: 'web-up', phase: 'during' }),
    ]);
    const journal = await readJson<Journal>(report.steps[1]?.journal ?? '');
    expect(journal.faults.map((fault) => fault.revertOutcome)).toEqual(['reverted', 'reverted', 'reverted']);
    for (const state of await f.states()) expect(state).toMatchObject({ running: true, paused: false });
    const markdown = await readFile(join(reportDir, 'report.md'), 'utf8');
    expect(markdown).toContain('| ⏭️ | stop-one | yes | 1 | skipped |');
    const html = await readFile(join(reportDir, 'report.html'), 'utf8');
    expect(html).toContain('e2e-stop');
    expect(html).toContain(`id="run-${report.steps[1]?.runId}"`);
  });

  it('onFailure continue: every step runs, the inline one too, and everything is reverted', async () => {
    const f = await fleet();
    const file = await writeGameDay(f, 'continue');
    const reportDir = join(f.dir, 'report');
    const result = await runCli(['gameday', file, '--report', reportDir, '--json'], { env: f.env });
    expect(result.code).toBe(1);
    const report = JSON.parse(result.stdout) as Report;
    expect(report.steps.map((step) => [step.type, step.name, step.status])).toEqual([
      ['experiment', 'pause-one', 'passed'],
      ['experiment', 'pause-all', 'failed'],
      ['pause', undefined, 'done'],
      ['experiment', 'stop-one', 'passed'],
    ]);
    expect(report).toMatchObject({ outcome: 'failed', score: 66.7 });
    expect(await readJson<Report>(join(reportDir, 'report.json'))).toEqual(report);
    for (const step of report.steps.filter((s) => s.type === 'experiment')) {
      const journal = await readJson<Journal>(step.journal ?? '');
      expect(journal.faults.length).toBeGreaterThan(0);
      for (const fault of journal.faults) expect(fault.revertOutcome).toBe('reverted');
      // The journal is also where `simian run` puts it, for the run history.
      await expect(readFile(join(f.dir, 'state', 'runs', `${step.runId}.json`), 'utf8')).resolves.toContain(
        step.runId,
      );
    }
    for (const state of await f.states()) expect(state).toMatchObject({ running: true, paused: false });
  });

  it('Ctrl-C halts the current run: faults reverted, the rest skipped, the report written, exit 2', async () => {
    const f = await fleet();
    const file = await f.write(
      'halt.yaml',
      [
        'apiVersion: simian.dev/v1alpha1',
        'kind: GameDay',
        'metadata: { name: e2e-halt }',
        'spec:',
        '  steps:',
        '    - experiment: freeze.yaml',
        '    - experiment: freeze.yaml',
        '',
      ].join('\n'),
    );
    await f.write(
      'freeze.yaml',
      f.experiment({ name: 'freeze-all', fault: 'type: pause', mode: 'all', duration: '120s' }),
    );
    const reportDir = join(f.dir, 'report');
    const run = startCli(['gameday', file, '--report', reportDir], f.env);
    expect(await eventually(async () => (await f.states()).every((state) => state.paused), 30_000, 200)).toBe(
      true,
    );
    run.child.kill('SIGINT');
    expect(await run.exited).toBe(2);
    for (const state of await f.states()) expect(state).toMatchObject({ running: true, paused: false });
    const report = await readJson<Report>(join(reportDir, 'report.json'));
    expect(report).toMatchObject({
      outcome: 'aborted',
      reason: 'halted by the operator; the remaining steps were skipped',
    });
    expect(report.steps.map((step) => step.status)).toEqual(['aborted', 'skipped']);
    expect(report.steps[0]?.reason).toBe('halted by the operator; faults reverted at once');
    expect(run.output()).toContain('halting, reverting every active fault');
  });

  it('refuses approval steps without a terminal and without --yes, before anything runs', async () => {
    const f = await fleet();
    await f.write('pause-one.yaml', f.experiment({ name: 'pause-one', fault: 'type: pause' }));
    const file = await f.write(
      'approval.yaml',
      [
        'apiVersion: simian.dev/v1alpha1',
        'kind: GameDay',
        'metadata: { name: e2e-approval }',
        'spec:',
        '  steps:',
        '    - approval: Is the on-call watching?',
        '    - experiment: pause-one.yaml',
        '',
      ].join('\n'),
    );
    const refused = await runCli(['gameday', file], { env: f.env });
    expect(refused.code).toBe(4);
    expect(refused.stderr).toContain(
      `simian: the game day asks for approval (${file} step 1), but stdin is not a terminal; nothing was run`,
    );
    expect(refused.stderr).toContain('(SIMIAN_APPROVAL_REQUIRED)');
    expect(refused.stdout).toBe('');
    const approved = await runCli(['gameday', file, '--yes', '--report', join(f.dir, 'report')], {
      env: f.env,
    });
    expect(approved.code).toBe(0);
    expect(approved.stdout).toContain('approved by --yes');
    expect(approved.stdout).toContain('PASSED  e2e-approval: score 100');
  });
});
