import { readdir, readFile } from 'node:fs/promises';
import { join, relative } from 'node:path';
import { describe, expect, test } from 'vitest';
import { formatIssue, validateFiles } from '../experiments/load.js';
import { loadGameDayFile, parseGameDaySource } from './load.js';

const here = import.meta.dirname;
const fixtures = join(here, 'fixtures');

/** Parses a fixture and gives its issues with paths relative to this folder, as a user in it would see them. */
async function fixtureMessages(name: string): Promise<string[]> {
  const file = join(fixtures, name);
  const result = await parseGameDaySource(await readFile(file, 'utf8'), file);
  return result.ok
    ? []
    : result.issues.map((issue) => formatIssue({ ...issue, file: relative(here, issue.file) }));
}

describe('invalid game days name the file, line, column, path and what was expected', () => {
  const cases: [string, string[]][] = [
    [
      'yaml-syntax',
      ['fixtures/invalid/yaml-syntax.yaml:9:6: YAML syntax error: Sequence item without - indicator'],
    ],
    [
      'unknown-field',
      ["fixtures/invalid/unknown-field.yaml:7:3: spec: unknown field 'step' (did you mean 'steps'?)"],
    ],
    ['duplicate-key', ["fixtures/invalid/duplicate-key.yaml:8:3: spec: duplicate key 'steps'"]],
    [
      'missing-fields',
      [
        "fixtures/invalid/missing-fields.yaml:1:1: metadata: missing required field 'metadata'",
        "fixtures/invalid/missing-fields.yaml:4:3: spec.steps: missing required field 'steps'",
      ],
    ],
    [
      'empty',
      [
        'fixtures/invalid/empty.yaml:1:1: the file is empty; expected a game day with apiVersion, kind, metadata and spec',
      ],
    ],
    [
      'empty-steps',
      ['fixtures/invalid/empty-steps.yaml:6:10: spec.steps: a game day needs at least one step'],
    ],
    [
      'no-experiment-steps',
      [
        'fixtures/invalid/no-experiment-steps.yaml:7:5: spec.steps: a game day needs at least one experiment or inline step; pauses and approvals alone test nothing',
      ],
    ],
    [
      'step-without-kind',
      [
        'fixtures/invalid/step-without-kind.yaml:8:7: spec.steps[1]: a step needs exactly one of experiment, inline, pause, approval (found none)',
      ],
    ],
    [
      'step-two-kinds',
      [
        'fixtures/invalid/step-two-kinds.yaml:7:7: spec.steps[0]: a step needs exactly one of experiment, inline, pause, approval (found experiment, pause)',
      ],
    ],
    [
      'step-key-of-other-kind',
      [
        'fixtures/invalid/step-key-of-other-kind.yaml:9:15: spec.steps[1].weight: weight applies to experiment and inline steps only, not to a pause step',
        'fixtures/invalid/step-key-of-other-kind.yaml:11:15: spec.steps[2].reason: reason applies to pause steps only, not to an approval step',
      ],
    ],
    [
      'bad-on-failure',
      [
        "fixtures/invalid/bad-on-failure.yaml:6:14: spec.onFailure: expected one of stop | continue, got 'halt'",
      ],
    ],
    [
      'bad-pause',
      [
        'fixtures/invalid/bad-pause.yaml:8:14: spec.steps[1].pause: expected a duration such as 500ms, 30s or 5m, got "5 minutes"',
      ],
    ],
    [
      'bad-weight',
      [
        'fixtures/invalid/bad-weight.yaml:8:15: spec.steps[0].weight: expected more than 0, got 0',
        'fixtures/invalid/bad-weight.yaml:10:17: spec.steps[1].required: expected boolean, got string',
      ],
    ],
    [
      'min-score-out-of-range',
      ['fixtures/invalid/min-score-out-of-range.yaml:6:13: spec.minScore: expected at most 100, got 150'],
    ],
    [
      'missing-experiment-file',
      [
        'fixtures/invalid/missing-experiment-file.yaml:7:19: spec.steps[0].experiment: cannot read experiment file fixtures/experiments/no-such.yaml: no such file (paths are relative to the game-day file)',
      ],
    ],
    [
      // The issue is in the experiment file the game day names, and names that file.
      'invalid-referenced-experiment',
      [
        "fixtures/experiments/bad-fault.yaml:10:13: spec.faults[0].type: expected one of kill | stop | pause | restart | latency | loss | bandwidth | reset | timeout | partition | zone-outage, got 'explode'",
      ],
    ],
    ['referenced-game-day', ['fixtures/valid/minimal.yaml:2:7: kind: expected kind Experiment']],
    [
      'invalid-inline',
      [
        "fixtures/invalid/invalid-inline.yaml:11:28: spec.steps[0].inline.spec.faults[0].type: fault 'stop' is not supported by the process driver (it supports: kill, pause, latency, loss, bandwidth, reset, timeout, zone-outage)",
      ],
    ],
    [
      'inline-wrong-kind',
      ['fixtures/invalid/inline-wrong-kind.yaml:8:15: spec.steps[0].inline.kind: expected kind Experiment'],
    ],
  ];

  test.each(cases)('%s', async (name, expected) => {
    // The missing-file message names the path the loader tried, relative to the current directory.
    const messages = await fixtureMessages(`invalid/${name}.yaml`);
    expect(messages.map((message) => message.replace(`${here}/`, ''))).toEqual(expected);
  });

  test('every invalid fixture has a case', async () => {
    const names = (await readdir(join(fixtures, 'invalid'))).map((file) => file.replace(/\.yaml$/, ''));
    expect(names.sort()).toEqual(cases.map(([name]) => name).sort());
  });

  test('loadGameDayFile throws SIMIAN_INVALID_GAMEDAY with every issue, and SIMIAN_FILE_NOT_FOUND for no file', async () => {
    const file = relative(process.cwd(), join(fixtures, 'invalid', 'bad-weight.yaml'));
    await expect(loadGameDayFile(file)).rejects.toMatchObject({
      code: 'SIMIAN_INVALID_GAMEDAY',
      message: [
        `${file}:8:15: spec.steps[0].weight: expected more than 0, got 0`,
        `${file}:10:17: spec.steps[1].required: expected boolean, got string`,
      ].join('\n'),
      hint: 'fix the lines above; nothing was run',
    });
    await expect(loadGameDayFile(join(fixtures, 'nope.yaml'))).rejects.toMatchObject({
      code: 'SIMIAN_FILE_NOT_FOUND',
    });
  });
});

describe('valid game days', () => {
  test('steps come out in order with their defaults; referenced files are read relative to the game day', async () => {
    const loaded = await loadGameDayFile(join(fixtures, 'valid', 'full.yaml'));
    expect(loaded.gameDay.spec).toMatchObject({ onFailure: 'continue', minScore: 80 });
    expect(
      loaded.steps.map((step) =>
        step.type === 'experiment'
          ? {
              type: step.type,
              name: step.name,
              file: relative(here, step.file),
              required: step.required,
              weight: step.weight,
            }
          : step,
      ),
    ).toEqual([
      { type: 'approval', index: 0, message: 'The on-call is watching the storefront dashboards. Start?' },
      {
        type: 'experiment',
        name: 'kill-one',
        file: 'fixtures/experiments/kill-one.yaml',
        required: true,
        weight: 1,
      },
      { type: 'pause', index: 2, duration: '30s', durationMs: 30_000, reason: 'let the balancer settle' },
      {
        type: 'experiment',
        name: 'stop-one',
        file: 'fixtures/valid/full.yaml#spec.steps[3].inline',
        required: true,
        weight: 1,
      },
      {
        type: 'experiment',
        name: 'pause-all',
        file: 'fixtures/experiments/pause-all.yaml',
        required: false,
        weight: 0.5,
      },
    ]);
  });

  test('an inline experiment is sent as a complete experiment document; a referenced one as its file', async () => {
    const loaded = await loadGameDayFile(join(fixtures, 'valid', 'full.yaml'));
    const [, kill, , inline] = loaded.steps;
    expect(kill?.type === 'experiment' && kill.source).toBe(
      await readFile(join(fixtures, 'experiments', 'kill-one.yaml'), 'utf8'),
    );
    const source = inline?.type === 'experiment' ? inline.source : '';
    expect(source).toMatch(
      /^apiVersion: simian\.dev\/v1alpha1\nkind: Experiment\nmetadata:\n {2}name: stop-one\n/,
    );
    expect(inline?.type === 'experiment' && inline.experiment.spec.duration).toBe('5s');
  });

  test('simian validate checks game days, and the experiments they name, beside experiments', async () => {
    const results = await validateFiles([
      join(fixtures, 'valid'),
      join(fixtures, 'experiments', 'kill-one.yaml'),
      join(fixtures, 'invalid', 'invalid-referenced-experiment.yaml'),
    ]);
    expect(
      results.map(({ file, ok, name, issues }) => ({
        file: relative(here, file),
        ok,
        name,
        issues: issues.map((issue) => relative(here, issue.file)),
      })),
    ).toEqual([
      { file: 'fixtures/valid/full.yaml', ok: true, name: 'storefront-game-day', issues: [] },
      { file: 'fixtures/valid/minimal.yaml', ok: true, name: 'minimal', issues: [] },
      { file: 'fixtures/experiments/kill-one.yaml', ok: true, name: 'kill-one', issues: [] },
      {
        file: 'fixtures/invalid/invalid-referenced-experiment.yaml',
        ok: false,
        name: undefined,
        issues: ['fixtures/experiments/bad-fault.yaml'],
      },
    ]);
  });
});
