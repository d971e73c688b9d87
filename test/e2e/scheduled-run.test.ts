import { randomUUID } from 'node:crypto';
import { mkdir, readdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { runCli, tempWorkspace } from '../helpers/cli.js';
import { containerState, docker, dockerAvailable, startWebContainers } from '../helpers/docker-fixtures.js';
import { startAgent, startServe } from '../helpers/orchestrator.js';
import { eventually } from '../helpers/wait.js';

interface Journal {
  runId: string;
  verdict: string;
  reason: string;
  targets: Array<{ id: string }>;
  faults: Array<{ target: { id: string }; injectedAt?: number; revertedAt?: number; revertOutcome?: string }>;
}

interface Listing {
  schedules: Array<{
    name: string;
    nextFire: { utc: string; local: string };
    lastResult: { outcome: string; reason?: string } | null;
    lastRun: { runId: string; verdict?: string } | null;
  }>;
  invalid: unknown[];
}

/** `docker events` of one container between two times (seconds since the epoch), as action names. */
async function containerEvents(id: string, since: number, until: number): Promise<string[]> {
  const { stdout } = await docker([
    'events',
    '--since',
    String(since),
    '--until',
    String(until),
    '--filter',
    `container=${id}`,
    '--format',
    '{{.Action}}',
  ]);
  return stdout.split('\n').filter((line) => line.trim() !== '');
}

describe.skipIf(!dockerAvailable())(
  'scheduled runs (simian serve --experiments and simian agent as real processes, real containers)',
  () => {
    const cleanups: Array<() => Promise<void> | void> = [];
    afterEach(async () => {
      for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
    });

    it('fires a cron schedule against the opted-in container only, and reverts the fault', async () => {
      const app = `sched-${randomUUID().slice(0, 8)}`;
      const optedIn = await startWebContainers({
        count: 1,
        labels: { app, 'simian.dev/chaos': 'enabled' },
      });
      cleanups.push(() => optedIn.cleanup());
      const bystander = await startWebContainers({ count: 1, labels: { app } });
      cleanups.push(() => bystander.cleanup());
      const optedInId = optedIn.ids[0] as string;
      const bystanderId = bystander.ids[0] as string;

      const workspace = await tempWorkspace('scheduled');
      cleanups.push(() => workspace.cleanup());
      const tokenFile = join(workspace.dir, 'token');
      await writeFile(tokenFile, 'scheduled-test-token\n');
      const stateDir = join(workspace.dir, 'state');
      const env = { SIMIAN_STATE_DIR: stateDir };
      const experiments = join(workspace.dir, 'experiments');
      await mkdir(experiments);
      // mode all: were the bystander eligible, it would be hit too. Its health is the steady state.
      await workspace.write(
        'experiments/pause-web.yaml',
        `apiVersion: simian.dev/v1alpha1
kind: Experiment
metadata:
  name: scheduled-pause
spec:
  target:
    driver: docker
    selector:
      labels: { app: ${app} }
    mode: all
  faults:
    - type: pause
  duration: 1s
  steadyState:
    probes:
      - name: bystander-up
        http: { url: http://127.0.0.1:${bystander.ports[0]}/health, timeout: 1s }
        interval: 150ms
    before: 500ms
    after: 5s
  schedule:
    cron: "*/2 * * * * *"
    timezone: Europe/Berlin
`,
      );

      const startedAt = Math.floor(Date.now() / 1_000) - 1;
      const serve = await startServe({ experiments, lease: '5s', tokenFile, env, cleanups });
      const orchestrator = serve.url;
      expect(await eventually(() => serve.output().includes('scheduling 1 experiment(s)'), 15_000)).toBe(
        true,
      );
      await startAgent({ serve, name: 'sched-agent', driver: 'docker', tokenFile, env, cleanups });

      const listing = async (): Promise<Listing> => {
        const result = await runCli(
          ['schedule', '--orchestrator', orchestrator, '--token-file', tokenFile, '--json'],
          { env, timeoutMs: 15_000 },
        );
        expect(result.code, result.stderr).toBe(0);
        return JSON.parse(result.stdout) as Listing;
      };
      let finished: Listing['schedules'][number] | undefined;
      const done = await eventually(
        async () => {
          const entry = (await listing()).schedules[0];
          if (entry?.lastRun?.verdict !== undefined) finished = entry;
          return finished !== undefined;
        },
        60_000,
        500,
      );
      expect(done, serve.output()).toBe(true);
      expect(finished?.name).toBe('scheduled-pause');
      expect(finished?.lastRun?.verdict, serve.output()).toBe('passed');
      expect(finished?.nextFire.local).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\+0[12]:00$/);

      const human = await runCli(['schedule', '--orchestrator', orchestrator, '--token-file', tokenFile], {
        env,
        timeoutMs: 15_000,
      });
      expect(human.stdout).toMatch(/^NAME +TRIGGER +NEXT FIRE \(ZONE\) +NEXT FIRE \(UTC\) +LAST RESULT\n/);
      expect(human.stdout).toMatch(
        /scheduled-pause +cron \*\/2 \* \* \* \* \* +\S+\+0[12]:00 Europe\/Berlin +\S+Z /,
      );

      // The history has it, recorded as started by the schedule.
      const runs = await fetch(`${orchestrator}/v1/runs?experiment=scheduled-pause`, {
        headers: { authorization: 'Bearer scheduled-test-token' },
      });
      const { runs: recorded } = (await runs.json()) as { runs: Array<{ runId: string; source: string }> };
      expect(recorded.map((run) => run.source)).toContain('schedule');
      expect(recorded.every((run) => run.source === 'schedule')).toBe(true);
      expect(recorded.map((run) => run.runId)).toContain(finished?.lastRun?.runId);

      // Stopping serve aborts a run in progress; every fault ends reverted either way.
      serve.child.kill('SIGTERM');
      expect(
        await Promise.race([serve.exited, new Promise((r) => setTimeout(() => r('hung'), 30_000))]),
      ).toBe(0);
      const endedAt = Math.ceil(Date.now() / 1_000) + 1;

      const journals = await Promise.all(
        (await readdir(join(stateDir, 'runs'))).map(
          async (name) => JSON.parse(await readFile(join(stateDir, 'runs', name), 'utf8')) as Journal,
        ),
      );
      expect(journals.map((journal) => journal.runId)).toContain(finished?.lastRun?.runId);
      for (const journal of journals) {
        expect(journal.targets.map((target) => target.id)).toEqual([optedInId]);
        for (const fault of journal.faults) {
          expect(fault.target.id).toBe(optedInId);
          if (fault.injectedAt !== undefined) expect(fault.revertOutcome).toBe('reverted');
        }
      }
      const passed = journals.find((journal) => journal.runId === finished?.lastRun?.runId);
      expect(passed?.faults).toHaveLength(1);

      // The engine saw the opted-in container paused and resumed, and the bystander never touched.
      const hit = await containerEvents(optedInId, startedAt, endedAt);
      expect(hit).toContain('pause');
      expect(hit.filter((action) => action === 'pause').length).toBe(
        hit.filter((action) => action === 'unpause').length,
      );
      // Its create and start fall in the window too; nothing a fault does may.
      const touched = ['pause', 'unpause', 'kill', 'die', 'stop', 'restart', 'oom'];
      const seen = await containerEvents(bystanderId, startedAt, endedAt);
      expect(seen.filter((action) => touched.includes(action))).toEqual([]);
      expect(await containerState(optedInId)).toMatchObject({ running: true, paused: false });
      expect(await containerState(bystanderId)).toMatchObject({ running: true, paused: false });
    });
  },
);
