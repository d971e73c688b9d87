import { stripVTControlCharacters } from 'node:util';
import { describe, expect, test } from 'vitest';
import type { PlannedExperiment } from './load.js';
import type { Suite } from './run-suite.js';
import { SuiteProgress } from './suite-progress.js';

const step: PlannedExperiment = {
  type: 'experiment',
  index: 0,
  name: 'pause-all',
  file: 'pause-all.yaml',
  source: '',
  experiment: undefined as unknown as PlannedExperiment['experiment'],
  required: true,
  weight: 1,
};
const suite: Suite = { id: 'gd-1', name: 'storefront', onFailure: 'stop', steps: [step] };

function output(isTTY: boolean) {
  let text = '';
  return { out: { isTTY, columns: 80, write: (chunk: string) => (text += chunk) }, text: () => text };
}

function drive(progress: SuiteProgress): void {
  progress.suiteStarted(suite);
  progress.stepStarted(step, 1, 1);
  progress.runEvent({ type: 'phase', runId: 'r1', phase: 'hold', at: 1 });
  progress.runEvent({
    type: 'injected',
    runId: 'r1',
    faultId: 'f1',
    fault: 'pause',
    target: 'web-1',
    agent: 'local',
    at: 1,
  });
  progress.runEvent({
    type: 'health',
    runId: 'r1',
    phase: 'during',
    probes: [{ name: 'web-up', ok: 3, total: 7, successRate: 3 / 7 }],
  });
}

describe('SuiteProgress', () => {
  test('without a terminal: plain lines, the run indented under its step', () => {
    const { out, text } = output(false);
    const progress = new SuiteProgress(out);
    drive(progress);
    progress.stop();
    // No cursor movement or erasing: plain lines a log keeps. (Colours follow NO_COLOR /
    // FORCE_COLOR / CI as picocolors decides, so they are stripped below.)
    const escapes = text().split('\x1b[').slice(1);
    expect(escapes.filter((sequence) => !/^[\d;]*m/.test(sequence))).toEqual([]);
    expect(stripVTControlCharacters(text()).split('\n')).toEqual([
      'game day storefront  gd-1 · 1 step(s), 1 experiment(s) · onFailure stop',
      'step 1/1 experiment 1/1 pause-all',
      '  phase hold',
      '  injected pause → web-1 on local',
      // The health line of the plain printer: elapsed, phase, probes.
      expect.stringMatching(/^\s+\d+ms during web-up 3\/7 ok$/),
      '',
    ]);
  });

  test('on a terminal: a live block with step, phase, probes and active faults, redrawn in place', () => {
    const { out, text } = output(true);
    const progress = new SuiteProgress(out);
    drive(progress);
    const written = text();
    // Redrawn: the cursor goes back up over the block before it is drawn again.
    expect(written).toContain('\x1b[3F\x1b[J');
    const lastBlock = stripVTControlCharacters(written.slice(written.lastIndexOf('\x1b[J'))).split('\n');
    expect(lastBlock.slice(0, 3)).toEqual([
      expect.stringMatching(/^▶ step 1\/1 · pause-all · phase hold · 00:0\d$/),
      '  probes: web-up 3/7 ok',
      '  faults active: pause → web-1',
    ]);
    progress.runEvent({
      type: 'reverted',
      runId: 'r1',
      faultId: 'f1',
      target: 'web-1',
      at: 2,
      outcome: 'reverted',
      reason: 'requested',
    });
    const after = text();
    expect(stripVTControlCharacters(after.slice(after.lastIndexOf('\x1b[J')))).toContain(
      'faults active: none',
    );
    progress.stop();
  });
});
