import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { experimentYaml, runCli, tempWorkspace } from '../helpers/cli.js';
import {
  containerState,
  dockerAvailable,
  startDemoBalancer,
  startWebContainers,
  waitForContainerState,
} from '../helpers/docker-fixtures.js';

interface Journal {
  verdict: string;
  reason: string;
  targets: Array<{ id: string }>;
  faults: Array<{
    faultId: string;
    injectedAt?: number;
    revertedAt?: number;
    revertOutcome?: string;
    detail?: string;
  }>;
  samples: unknown[];
  timeToRecoverMs: number | null;
  stopCondition?: { probe: string; successRate: number };
}

/** A set of web containers behind the demo balancer, with the experiment's workspace. */
async function webFleet(count: number, restartPolicy: 'no' | 'always' = 'no') {
  const containers = await startWebContainers({ count, labels: { app: 'web' }, restartPolicy });
  const balancer = await startDemoBalancer({ backends: containers.ports.map((port) => `127.0.0.1:${port}`) });
  const workspace = await tempWorkspace('docker-e2e');
  return {
    containers,
    balancer,
    workspace,
    /** Selects exactly this fleet: the run label is unique to it. */
    labels: { app: 'web', 'simian.test.run': containers.runId },
    probeUrl: `${balancer.url.replace(/\/$/, '')}/health`,
    async run(name: string, yaml: string, extra: string[] = []) {
      const file = await workspace.write(`${name}.yaml`, yaml);
      const journalPath = join(workspace.dir, `${name}.journal.json`);
      const result = await runCli(['run', file, '--journal', journalPath, ...extra], {
        env: { SIMIAN_STATE_DIR: join(workspace.dir, 'state') },
      });
      const journal = extra.includes('--dry-run')
        ? undefined
        : (JSON.parse(await readFile(journalPath, 'utf8').catch(() => 'null')) as Journal | null);
      return { ...result, journal };
    },
    async cleanup() {
      await balancer.close();
      await containers.cleanup();
      await workspace.cleanup();
    },
  };
}

type Fleet = Awaited<ReturnType<typeof webFleet>>;

/** `simian run` of a kill of every target matching `labels`, in a workspace of its own. */
async function runKillAll(name: string, labels: Record<string, string>) {
  const workspace = await tempWorkspace(`docker-${name}`);
  try {
    const file = await workspace.write(
      `${name}.yaml`,
      experimentYaml({
        name,
        driver: 'docker',
        labels,
        mode: 'all',
        fault: 'type: kill',
        duration: '1s',
        probeUrl: 'http://127.0.0.1:9/health',
      }),
    );
    return await runCli(['run', file], { env: { SIMIAN_STATE_DIR: join(workspace.dir, 'state') } });
  } finally {
    await workspace.cleanup();
  }
}

describe.skipIf(!dockerAvailable())(
  'simian run with the docker driver (real engine, real containers)',
  () => {
    const fleets: Fleet[] = [];
    const fleet = async (count: number, restartPolicy: 'no' | 'always' = 'no') => {
      const created = await webFleet(count, restartPolicy);
      fleets.push(created);
      return created;
    };
    afterEach(async () => {
      await Promise.all(fleets.splice(0).map((f) => f.cleanup()));
    });

    it('kills exactly one of three replicas and passes: the balancer routes around it', async () => {
      const f = await fleet(3);
      const result = await f.run(
        'kill-one',
        experimentYaml({
          name: 'kill-one',
          driver: 'docker',
          labels: f.labels,
          fault: 'type: kill',
          duration: '2s',
          probeUrl: f.probeUrl,
        }),
      );
      expect(result.stdout).toContain('PASSED');
      expect(result.code).toBe(0);
      expect(result.journal?.verdict).toBe('passed');
      const states = await Promise.all(f.containers.ids.map((id) => containerState(id)));
      const dead = states.filter((state) => !state.running);
      expect(dead).toHaveLength(1);
      expect(dead[0]?.exitCode).toBe(137);
      expect(result.journal?.targets.map((t) => t.id)).toEqual([
        f.containers.ids[states.indexOf(dead[0] as (typeof states)[number])],
      ]);
      expect(result.journal?.faults[0]?.detail).toMatch(
        /^SIGKILL sent from the host to pid \d+, the main process of container /,
      );
    });

    it('fails with the hypothesis-failed exit code when the only replica is killed', async () => {
      const f = await fleet(1);
      const result = await f.run(
        'kill-only',
        experimentYaml({
          name: 'kill-only',
          driver: 'docker',
          labels: f.labels,
          fault: 'type: kill',
          duration: '2s',
          probeUrl: f.probeUrl,
          after: '2s',
        }),
      );
      expect(result.code).toBe(1);
      expect(result.journal?.verdict).toBe('failed');
      expect(result.journal?.reason).toMatch(/^hypothesis violated during the fault: web-up: success rate/);
      expect((await containerState(f.containers.ids[0] as string)).running).toBe(false);
    });

    it('aborts a pause when the stop condition trips, and the container runs again', async () => {
      const f = await fleet(1);
      const result = await f.run(
        'pause-stop',
        experimentYaml({
          name: 'pause-stop',
          driver: 'docker',
          labels: f.labels,
          fault: 'type: pause',
          duration: '60s',
          probeUrl: f.probeUrl,
          stopWhen: '{ probe: web-up, successRateBelow: 0.5, window: 3s }',
        }),
      );
      expect(result.code).toBe(2);
      expect(result.journal?.verdict).toBe('aborted');
      // An attempt that started as the inject was sent may still succeed, so the rate is not always 0.
      expect(result.journal?.reason).toMatch(
        /^stop condition met: web-up success rate 0\.\d\d below 0\.5 over 3s; faults reverted at once$/,
      );
      expect(result.journal?.stopCondition?.successRate).toBeLessThan(0.5);
      expect(result.journal?.faults[0]).toMatchObject({ revertOutcome: 'reverted' });
      const state = await containerState(f.containers.ids[0] as string);
      expect(state).toMatchObject({ running: true, paused: false });
      // Aborted long before the 60 s duration: the stop condition, not the clock, ended it.
      const fault = result.journal?.faults[0];
      expect((fault?.revertedAt ?? 0) - (fault?.injectedAt ?? 0)).toBeLessThan(30_000);
    });

    it('--dry-run shows the targets and touches nothing', async () => {
      const f = await fleet(3);
      const dryYaml = experimentYaml({
        name: 'dry',
        driver: 'docker',
        labels: f.labels,
        mode: 'count:2',
        fault: 'type: kill',
        duration: '2s',
        probeUrl: f.probeUrl,
      });
      const before = await Promise.all(f.containers.ids.map((id) => containerState(id)));
      const result = await f.run('dry', dryYaml, ['--dry-run', '--seed', '7']);
      expect(result.code).toBe(0);
      expect(result.stdout).toContain('dry run of dry: nothing was touched');
      expect(result.stdout).toContain('targets 2 of 3 matching');
      expect(result.stdout).toContain('would apply kill(signal=SIGKILL) for 2s');
      const after = await Promise.all(f.containers.ids.map((id) => containerState(id)));
      expect(after).toEqual(before);
      // The same seed picks the same targets.
      const again = await f.run('dry', dryYaml, ['--dry-run', '--seed', '7']);
      const chosen = (text: string) =>
        text.split('\n').filter((line) => line.startsWith('  ') && line.includes(' docker '));
      expect(chosen(again.stdout)).toEqual(chosen(result.stdout));
    });

    it('refuses to run when the selector matches no container', async () => {
      const result = await runKillAll('none', { app: 'no-such-app-anywhere' });
      expect(result.code).toBe(3);
      expect(result.stdout).toContain('ERROR');
      expect(result.stdout).toMatch(
        /selector \{app=no-such-app-anywhere\} \(driver docker\) matched no target on 1 agent\(s\)/,
      );
    });

    it('never touches a container labelled simian.dev/protected=true', async () => {
      const containers = await startWebContainers({
        count: 1,
        labels: { app: 'web', 'simian.dev/protected': 'true' },
      });
      try {
        const result = await runKillAll('protected', { 'simian.test.run': containers.runId });
        expect(result.code).toBe(3);
        expect(result.stdout).toContain('matched no target');
        expect((await containerState(containers.ids[0] as string)).running).toBe(true);
      } finally {
        await containers.cleanup();
      }
    });

    it('kills like a crash: Docker restarts a container with a restart policy, not a plain one', async () => {
      const f = await fleet(2, 'always');
      const plain = await fleet(1, 'no');
      const before = await containerState(f.containers.ids[0] as string);
      const result = await f.run(
        'kill-restart-policy',
        experimentYaml({
          name: 'kill-restart-policy',
          driver: 'docker',
          labels: f.labels,
          mode: 'all',
          fault: 'type: kill',
          duration: '2s',
          probeUrl: f.probeUrl,
          successRate: 0,
          after: '10s',
        }),
      );
      expect(result.journal?.faults).toHaveLength(2);
      for (const id of f.containers.ids) {
        const state = await waitForContainerState(
          id,
          (s) => s.running && s.restartCount > before.restartCount,
          15_000,
        );
        expect(state.restartCount).toBeGreaterThan(0);
      }
      const plainResult = await plain.run(
        'kill-plain',
        experimentYaml({
          name: 'kill-plain',
          driver: 'docker',
          labels: plain.labels,
          fault: 'type: kill',
          duration: '1s',
          probeUrl: plain.probeUrl,
          successRate: 0,
          after: '1s',
        }),
      );
      expect(plainResult.journal?.faults).toHaveLength(1);
      const plainState = await containerState(plain.containers.ids[0] as string);
      expect(plainState).toMatchObject({ running: false, exitCode: 137, restartCount: 0 });
    });
  },
);
