import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { runCli } from '../helpers/cli.js';
import { dockerAvailable } from '../helpers/docker-fixtures.js';
import { parseJUnit } from '../helpers/junit.js';
import { type WebFleet, webFleetPerTest } from '../helpers/web-fleet.js';

interface TestCase {
  classname: string;
  name: string;
  time: string;
  failure?: { message: string; type: string; text?: string };
  error?: { message: string; type: string };
  skipped?: { message: string };
}

interface JUnit {
  testsuites: {
    tests: string;
    failures: string;
    errors: string;
    skipped: string;
    testsuite: Array<{ name: string; tests: string; testcase: TestCase[] }>;
  };
}

async function readJUnit(path: string): Promise<JUnit> {
  return parseJUnit(await readFile(path, 'utf8')) as JUnit;
}

describe.skipIf(!dockerAvailable())('simian gate against real containers', () => {
  const fleet = webFleetPerTest(3);

  /** `simian gate` with a JUnit file and a report directory in the fleet's workspace. */
  async function gate(f: WebFleet, args: string[], env: NodeJS.ProcessEnv = {}) {
    const junit = join(f.dir, 'out', 'junit.xml');
    const report = join(f.dir, 'out', 'report');
    const result = await runCli(['gate', ...args, '--junit', junit, '--report', report], {
      env: { ...f.env, ...env },
    });
    return { ...result, junit, report };
  }

  it('exit 0 when every experiment passes; one testcase per experiment', async () => {
    const f = await fleet();
    const dir = join(f.dir, 'checks');
    await f.write('checks/a-pause-one.yaml', f.experiment({ name: 'pause-one', fault: 'type: pause' }));
    await f.write(
      'checks/b-stop-one.yaml',
      f.experiment({ name: 'stop-one', fault: '{ type: stop, timeout: 1s }', duration: '1s' }),
    );
    const result = await gate(f, [dir, '--min-score', '100']);
    expect(result.code).toBe(0);
    expect(result.stdout).toContain('gate PASSED  score 100 (minimum 100)  exit 0');
    const junit = await readJUnit(result.junit);
    expect(junit.testsuites).toMatchObject({ tests: '2', failures: '0', errors: '0', skipped: '0' });
    const cases = junit.testsuites.testsuite[0]?.testcase ?? [];
    expect(cases.map((c) => [c.classname, c.name, c.failure, c.error])).toEqual([
      ['simian', 'pause-one', undefined, undefined],
      ['simian', 'stop-one', undefined, undefined],
    ]);
    for (const c of cases) expect(Number(c.time)).toBeGreaterThan(1);
    const markdown = await readFile(join(result.report, 'report.md'), 'utf8');
    expect(markdown).toContain('## simian gate: ✅ passed');
    expect(markdown).toContain('| ✅ | pause-one | yes | 1 | passed |');
  });

  it('exit 1 when a hypothesis fails; the failure names the probe and why', async () => {
    const f = await fleet();
    const pass = await f.write('pause-one.yaml', f.experiment({ name: 'pause-one', fault: 'type: pause' }));
    const fail = await f.write(
      'pause-all.yaml',
      f.experiment({ name: 'pause-all', fault: 'type: pause', mode: 'all' }),
    );
    const result = await gate(f, [pass, fail]);
    expect(result.code).toBe(1);
    const junit = await readJUnit(result.junit);
    expect(junit.testsuites).toMatchObject({ tests: '2', failures: '1', errors: '0' });
    const [passed, failed] = junit.testsuites.testsuite[0]?.testcase ?? [];
    expect(passed?.failure).toBeUndefined();
    expect(failed?.name).toBe('pause-all');
    expect(failed?.failure?.type).toBe('failed');
    expect(failed?.failure?.message).toMatch(
      /^hypothesis violated during the fault: web-up: success rate 0(\.\d+)? below 0\.95 \(\d+\/\d+ ok\)$/,
    );
    expect(failed?.failure?.text).toMatch(/web-up during: success rate/);
    const report = JSON.parse(await readFile(join(result.report, 'report.json'), 'utf8')) as {
      outcome: string;
      score: number;
      exitCode: number;
    };
    expect(report).toMatchObject({ outcome: 'failed', score: 50, exitCode: 1 });
    for (const state of await f.states()) expect(state).toMatchObject({ running: true, paused: false });
  });

  it('exit 2 when a stop condition aborts an experiment', async () => {
    const f = await fleet();
    const file = await f.write(
      'pause-all-stop.yaml',
      f.experiment({
        name: 'pause-all-stop',
        fault: 'type: pause',
        mode: 'all',
        duration: '60s',
        stopWhen: '{ probe: web-up, successRateBelow: 0.5, window: 3s }',
      }),
    );
    const result = await gate(f, [file]);
    expect(result.code).toBe(2);
    const [aborted] = (await readJUnit(result.junit)).testsuites.testsuite[0]?.testcase ?? [];
    expect(aborted?.failure?.type).toBe('aborted');
    expect(aborted?.failure?.message).toMatch(
      /^stop condition met: web-up success rate 0\.\d\d below 0\.5 over 3s/,
    );
    for (const state of await f.states()) expect(state).toMatchObject({ running: true, paused: false });
  });

  it('exit 3 on a tool error: a selector with no target, and an unreachable orchestrator', async () => {
    const f = await fleet();
    const pass = await f.write('pause-one.yaml', f.experiment({ name: 'pause-one', fault: 'type: pause' }));
    const none = await f.write(
      'no-target.yaml',
      f
        .experiment({ name: 'no-target', fault: 'type: pause' })
        .replace(/"simian\.test\.run": "[^"]+"/, '"simian.test.run": "no-such-fleet"'),
    );
    const result = await gate(f, [pass, none]);
    expect(result.code).toBe(3);
    const junit = await readJUnit(result.junit);
    expect(junit.testsuites).toMatchObject({ tests: '2', failures: '0', errors: '1' });
    const [, errored] = junit.testsuites.testsuite[0]?.testcase ?? [];
    expect(errored?.error).toMatchObject({ type: 'SIMIAN_NO_TARGETS' });
    expect(errored?.error?.message).toMatch(/matched no target/);

    const unreachable = await gate(f, [pass, '--orchestrator', 'http://127.0.0.1:9'], {
      SIMIAN_TOKEN: 'token',
    });
    expect(unreachable.code).toBe(3);
    const [lost] = (await readJUnit(unreachable.junit)).testsuites.testsuite[0]?.testcase ?? [];
    expect(lost?.error?.type).toBe('SIMIAN_ORCHESTRATOR_UNREACHABLE');
    expect(lost?.error?.message).toMatch(/^cannot reach the orchestrator at http:\/\/127\.0\.0\.1:9/);
  });

  it('a game day: a failure that is not required only lowers the score; exit 5 below --min-score', async () => {
    const f = await fleet();
    await f.write('pause-one.yaml', f.experiment({ name: 'pause-one', fault: 'type: pause' }));
    await f.write('pause-all.yaml', f.experiment({ name: 'pause-all', fault: 'type: pause', mode: 'all' }));
    const file = await f.write(
      'game-day.yaml',
      [
        'apiVersion: simian.dev/v1alpha1',
        'kind: GameDay',
        'metadata: { name: release-checks }',
        'spec:',
        '  steps:',
        '    - experiment: pause-one.yaml',
        '      weight: 3',
        '    - experiment: pause-all.yaml',
        '      required: false',
        '',
      ].join('\n'),
    );
    const result = await gate(f, [file, '--min-score', '80']);
    expect(result.code).toBe(5);
    expect(result.stdout).toContain('gate BELOW MIN SCORE  score 75 (minimum 80)  exit 5');
    const junit = await readJUnit(result.junit);
    const suite = junit.testsuites.testsuite[0];
    expect(suite?.name).toBe('release-checks');
    expect(suite?.testcase.map((c) => [c.classname, c.name, c.failure?.type])).toEqual([
      ['release-checks', 'pause-one', undefined],
      ['release-checks', 'pause-all', 'failed'],
    ]);
    const lenient = await gate(f, [file, '--min-score', '75']);
    expect(lenient.code).toBe(0);
  });

  it('exit 4 on invalid input, naming file, line and column; nothing runs', async () => {
    const f = await fleet();
    const file = await f.write(
      'game-day.yaml',
      [
        'apiVersion: simian.dev/v1alpha1',
        'kind: GameDay',
        'metadata: { name: broken }',
        'spec:',
        '  steps:',
        '    - experiment: missing.yaml',
        '',
      ].join('\n'),
    );
    const result = await gate(f, [file]);
    expect(result.code).toBe(4);
    expect(result.stderr).toContain(
      `${file}:6:19: spec.steps[0].experiment: cannot read experiment file ${join(f.dir, 'missing.yaml')}: no such file`,
    );
    expect(result.stderr).toContain('(SIMIAN_INVALID_GAMEDAY)');
    await expect(readFile(result.junit, 'utf8')).rejects.toThrow();
  });
});
