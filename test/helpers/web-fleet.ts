// Web containers behind the demo balancer, with a workspace for experiment and game-day files,
// for the `simian gameday` and `simian gate` end-to-end tests.
import { mkdir, writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { afterEach } from 'vitest';
import { experimentYaml, tempWorkspace } from './cli.js';
import {
  type ContainerState,
  containerState,
  startDemoBalancer,
  startWebContainers,
} from './docker-fixtures.js';

export interface WebFleet {
  ids: string[];
  dir: string;
  /** Point SIMIAN_STATE_DIR here so runs leave nothing in ~/.simian. */
  env: NodeJS.ProcessEnv;
  /** Writes a file into the workspace and returns its path. */
  write(name: string, text: string): Promise<string>;
  /** An experiment against exactly this fleet; probes go through the balancer. */
  experiment(options: {
    name: string;
    fault: string;
    mode?: string;
    duration?: string;
    after?: string;
    stopWhen?: string;
  }): string;
  states(): Promise<ContainerState[]>;
  cleanup(): Promise<void>;
}

export async function startWebFleet(count = 3): Promise<WebFleet> {
  const containers = await startWebContainers({ count, labels: { app: 'web' } });
  try {
    const balancer = await startDemoBalancer({
      backends: containers.ports.map((port) => `127.0.0.1:${port}`),
    });
    const workspace = await tempWorkspace('gameday-e2e');
    const labels = { app: 'web', 'simian.test.run': containers.runId };
    const probeUrl = `${balancer.url.replace(/\/$/, '')}/health`;
    return {
      ids: containers.ids,
      dir: workspace.dir,
      env: { SIMIAN_STATE_DIR: join(workspace.dir, 'state') },
      async write(name, text) {
        const path = join(workspace.dir, name);
        await mkdir(dirname(path), { recursive: true });
        await writeFile(path, text);
        return path;
      },
      experiment: (options) =>
        experimentYaml({
          driver: 'docker',
          labels,
          probeUrl,
          duration: options.duration ?? '2s',
          after: options.after ?? '4s',
          ...options,
        }),
      states: () => Promise.all(containers.ids.map((id) => containerState(id))),
      async cleanup() {
        await balancer.close();
        await containers.cleanup();
        await workspace.cleanup();
      },
    };
  } catch (error) {
    await containers.cleanup();
    throw error;
  }
}

/**
 * For a `describe` whose tests each start their own fleet: returns the function that starts one,
 * and removes every fleet it started after each test.
 */
export function webFleetPerTest(count = 3): () => Promise<WebFleet> {
  const fleets: WebFleet[] = [];
  afterEach(async () => {
    await Promise.all(fleets.splice(0).map((f) => f.cleanup()));
  });
  return async () => {
    const created = await startWebFleet(count);
    fleets.push(created);
    return created;
  };
}

/** Indents a YAML document to sit under `- inline:` in a game day's steps. */
export function inlineYaml(yaml: string): string {
  return yaml
    .split('\n')
    .filter((line) => line.trim() !== '')
    .map((line) => `        ${line}`)
    .join('\n');
}
