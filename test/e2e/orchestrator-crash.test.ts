import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { experimentYaml, startCli, tempWorkspace } from '../helpers/cli.js';
import { containerState, dockerAvailable, startWebContainers } from '../helpers/docker-fixtures.js';
import { isProcessAlive } from '../helpers/leftovers.js';
import { startAgent, startServe } from '../helpers/orchestrator.js';
import { eventually } from '../helpers/wait.js';

describe.skipIf(!dockerAvailable())(
  'orchestrator crash (simian serve and simian agent as real processes)',
  () => {
    const cleanups: Array<() => Promise<void> | void> = [];
    afterEach(async () => {
      for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
    });

    it('the agent unpauses the container when the lease runs out after the orchestrator is SIGKILLed', async () => {
      const containers = await startWebContainers({ count: 1, labels: { app: 'web' } });
      cleanups.push(() => containers.cleanup());
      const workspace = await tempWorkspace('crash');
      cleanups.push(() => workspace.cleanup());
      const tokenFile = join(workspace.dir, 'token');
      await writeFile(tokenFile, 'crash-test-token\n');
      const env = { SIMIAN_STATE_DIR: join(workspace.dir, 'state') };

      const serve = await startServe({ lease: '3s', tokenFile, env, cleanups });
      const agent = await startAgent({
        serve,
        name: 'crash-agent',
        zone: 'zone-a',
        driver: 'docker',
        tokenFile,
        env,
        cleanups,
      });

      const file = await workspace.write(
        'pause.yaml',
        experimentYaml({
          name: 'pause-long',
          driver: 'docker',
          labels: { 'simian.test.run': containers.runId },
          fault: 'type: pause',
          duration: '120s',
          probeUrl: `http://127.0.0.1:${containers.ports[0]}/health`,
          before: '500ms',
          successRate: 0,
        }),
      );
      const run = startCli(['run', file, '--orchestrator', serve.url, '--token-file', tokenFile], env);
      cleanups.push(() => {
        if (run.child.pid && isProcessAlive(run.child.pid)) run.child.kill('SIGKILL');
      });
      const id = containers.ids[0] as string;
      expect(await eventually(async () => (await containerState(id)).paused, 20_000)).toBe(true);

      serve.child.kill('SIGKILL');
      await serve.exited;
      // Lease 3 s: the agent must resume the container by itself soon after (bounded wait).
      expect(await eventually(async () => !(await containerState(id)).paused, 10_000)).toBe(true);
      expect(await containerState(id)).toMatchObject({ running: true, paused: false });
      expect(agent.output()).toMatch(/lease/);
      // The shared token went to three processes and through every handshake: no log line has it.
      for (const output of [serve.output(), agent.output(), run.output()])
        expect(output).not.toContain('crash-test-token');
      // The client notices the orchestrator is gone and says so instead of hanging.
      expect(
        await Promise.race([run.exited, new Promise((resolve) => setTimeout(() => resolve('hung'), 15_000))]),
      ).toBe(3);
    });
  },
);
