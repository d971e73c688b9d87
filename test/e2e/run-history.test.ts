import { randomUUID } from 'node:crypto';
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { experimentYaml, pauseAllFor2Minutes, runCli, startCli, tempWorkspace } from '../helpers/cli.js';
import { type DemoSystem, startDemoSystem } from '../helpers/demo-system.js';
import { isProcessAlive } from '../helpers/leftovers.js';
import {
  type AgentOptions,
  freePort,
  type ServeOptions,
  startAgent,
  startServe,
} from '../helpers/orchestrator.js';
import { allStopped, processState } from '../helpers/processes.js';
import { eventually } from '../helpers/wait.js';

interface ListedRun {
  runId: string;
  experiment: string;
  verdict: string;
  reason: string;
  source: string;
  endedAt?: number;
}

describe('run history (simian serve, simian runs, simian report as real processes)', () => {
  const cleanups: Array<() => Promise<void> | void> = [];
  afterEach(async () => {
    for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
  });

  /** A demo system, a token, and the options of its serve and agent. */
  async function setup() {
    const app = `hist-${randomUUID().slice(0, 8)}`;
    const system: DemoSystem = await startDemoSystem({ lbPort: 0, app });
    cleanups.push(() => system.stop());
    const workspace = await tempWorkspace('history');
    cleanups.push(() => workspace.cleanup());
    const tokenFile = join(workspace.dir, 'token');
    await writeFile(tokenFile, `history-${randomUUID()}\n`);
    const port = await freePort();
    const url = `http://127.0.0.1:${port}`;
    const env = { SIMIAN_STATE_DIR: join(workspace.dir, 'state') };
    const probeUrl = `${system.lbUrl.replace(/\/$/, '')}/health`;
    // The same port each time: a restarted serve is found where clients found the first.
    const serveOptions: ServeOptions = { port, lease: '2s', tokenFile, env, cleanups };
    const agentOptions: Omit<AgentOptions, 'serve'> = {
      orchestrator: url,
      name: `agent-${app}`,
      driver: 'process',
      tokenFile,
      env,
      cleanups,
    };
    const listRuns = async (...args: string[]): Promise<ListedRun[]> => {
      const result = await runCli(['runs', '--json', ...args], { env });
      expect(result.code, result.stderr).toBe(0);
      return (JSON.parse(result.stdout) as { runs: ListedRun[] }).runs;
    };
    return { app, system, workspace, tokenFile, url, env, probeUrl, serveOptions, agentOptions, listRuns };
  }

  it('keeps a served run, its verdict and journal across a restart of simian serve', async () => {
    const { app, workspace, tokenFile, url, env, probeUrl, serveOptions, agentOptions, listRuns } =
      await setup();
    const serve = await startServe(serveOptions);
    await startAgent({ ...agentOptions, serve });
    const file = await workspace.write(
      'kill.yaml',
      experimentYaml({
        name: 'history-kill-one',
        driver: 'process',
        labels: { app },
        fault: 'type: kill',
        duration: '1s',
        probeUrl,
      }),
    );
    const journalPath = join(workspace.dir, 'kill.json');
    const run = await runCli(
      ['run', file, '--orchestrator', url, '--token-file', tokenFile, '--journal', journalPath],
      {
        env,
      },
    );
    expect(run.code, run.stdout + run.stderr).toBe(0);
    const journal = JSON.parse(await readFile(journalPath, 'utf8')) as { runId: string; reason: string };

    serve.child.kill('SIGTERM');
    expect(await serve.exited).toBe(0);
    const restarted = await startServe(serveOptions);

    const expected = {
      runId: journal.runId,
      experiment: 'history-kill-one',
      verdict: 'passed',
      reason: journal.reason,
      source: 'api',
    };
    const remote = await listRuns('--orchestrator', url, '--token-file', tokenFile);
    expect(remote).toHaveLength(1);
    expect(remote[0]).toMatchObject(expected);
    // Without --orchestrator: the same database, read directly while serve runs.
    expect(await listRuns()).toEqual(remote);
    expect(
      await listRuns('--experiment', 'history-kill-one', '--verdict', 'passed', '--since', '1h'),
    ).toEqual(remote);
    expect(await listRuns('--verdict', 'failed')).toEqual([]);

    const report = await runCli(
      ['report', journal.runId, '--orchestrator', url, '--token-file', tokenFile, '--json'],
      {
        env,
      },
    );
    expect(report.code, report.stderr).toBe(0);
    expect((JSON.parse(report.stdout) as { journal: unknown }).journal).toEqual(
      JSON.parse(await readFile(journalPath, 'utf8')),
    );
    const text = await runCli(['report', journal.runId], { env });
    expect(text.code, text.stderr).toBe(0);
    expect(text.stdout.split('\n')[0]).toBe(`PASSED  ${journal.reason}`);
    expect(text.stdout).toContain('kill(signal=SIGKILL) → web-');
    expect(restarted.output()).not.toContain('"level":50');
  }, 120_000);

  it('marks a run aborted, not running, after serve was SIGKILLed during it', async () => {
    const { app, system, workspace, tokenFile, url, env, probeUrl, serveOptions, agentOptions, listRuns } =
      await setup();
    const serve = await startServe(serveOptions);
    await startAgent({ ...agentOptions, serve });
    const file = await workspace.write(
      'pause.yaml',
      pauseAllFor2Minutes('history-pause-long', app, probeUrl),
    );
    const client = startCli(['run', file, '--orchestrator', url, '--token-file', tokenFile], env);
    cleanups.push(async () => {
      if (client.child.pid && isProcessAlive(client.child.pid)) {
        client.child.kill('SIGKILL');
        await client.exited;
      }
    });
    const pids = system.replicas.map((replica) => replica.pid);
    expect(await eventually(() => allStopped(pids), 20_000)).toBe(true);
    const during = await listRuns('--verdict', 'running');
    expect(during.map((run) => run.experiment)).toEqual(['history-pause-long']);

    serve.child.kill('SIGKILL');
    await serve.exited;
    expect(await client.exited).toBe(3);
    // The agent's lease (2s) runs out without the orchestrator: it resumes the replicas itself.
    expect(
      await eventually(
        async () => (await Promise.all(pids.map(processState))).every((s) => s !== 'T'),
        15_000,
      ),
    ).toBe(true);

    await startServe(serveOptions);
    const after = await listRuns('--orchestrator', url, '--token-file', tokenFile);
    expect(after).toHaveLength(1);
    expect(after[0]).toMatchObject({
      runId: during[0]?.runId,
      experiment: 'history-pause-long',
      verdict: 'aborted',
      reason: 'the orchestrator stopped during the run (found on restart)',
    });
    expect(await listRuns('--verdict', 'running')).toEqual([]);
    const report = await runCli(['report', during[0]?.runId ?? '', '--html', join(workspace.dir, 'r.html')], {
      env,
    });
    expect(report.code, report.stderr).toBe(0);
    expect(report.stdout).toContain('ABORTED  the orchestrator stopped during the run (found on restart)');
    expect(await readFile(join(workspace.dir, 'r.html'), 'utf8')).toContain('no samples to show');
  }, 120_000);

  it('rejects bad flags naming the flag, and an unknown run id, with exit 4', async () => {
    const { env } = await setup();
    const cases: Array<[string[], string]> = [
      [
        ['runs', '--verdict', 'maybe'],
        '--verdict: expected one of running | passed | failed | aborted | error, got "maybe"',
      ],
      [
        ['runs', '--since', 'yesterday'],
        '--since: expected a date (2026-11-22), a UTC date and time (2026-11-22T10:00) or a time ago (90m, 24h, 7d), got "yesterday"',
      ],
      [['runs', '--until', '2026-02-31'], '--until: expected a date'],
      [['runs', '--limit', '0'], '--limit: expected a whole number from 1 to 10000, got "0"'],
      [['report', 'no-such-run'], 'no run no-such-run in the run history'],
    ];
    for (const [args, message] of cases) {
      const result = await runCli(args, { env });
      expect(result.stderr, args.join(' ')).toContain(message);
      expect(result.code, args.join(' ')).toBe(4);
    }
  });
});
