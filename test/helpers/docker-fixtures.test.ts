import { afterAll, describe, expect, it } from 'vitest';
import {
  containerExists,
  containerState,
  docker,
  dockerAvailable,
  inspectContainer,
  removeContainers,
  startDemoBalancer,
  startWebContainers,
  TEST_IMAGE,
  testLabels,
  waitForContainerState,
} from './docker-fixtures.js';
import { assertNoLeftovers } from './leftovers.js';

async function get(url: string) {
  const res = await fetch(url, { signal: AbortSignal.timeout(5_000) });
  return { status: res.status, body: await res.text() };
}

describe.skipIf(!dockerAvailable())('docker fixtures', () => {
  const created: string[] = [];
  afterAll(async () => {
    await removeContainers(created);
  });

  it('starts labelled web containers on 127.0.0.1 and removes them', async () => {
    const web = await startWebContainers({ count: 2, labels: { app: 'web', tier: 'front' } });
    created.push(...web.ids);
    try {
      expect(web.ids).toHaveLength(2);
      expect(web.ports).toHaveLength(2);
      for (const port of web.ports) {
        expect(await get(`http://127.0.0.1:${port}/health`)).toEqual({ status: 200, body: 'ok\n' });
        expect((await get(`http://127.0.0.1:${port}/`)).body).toContain('hello from simian-test/busybox');
      }
      const info = await inspectContainer(web.ids[0] as string);
      expect(info.Config?.Labels).toMatchObject({
        app: 'web',
        tier: 'front',
        'simian.test': 'e2e',
        'simian.test.run': web.runId,
        ...testLabels(),
      });
      const state = await containerState(web.ids[0] as string);
      expect(state).toMatchObject({
        status: 'running',
        running: true,
        paused: false,
        exitCode: 0,
        restartCount: 0,
      });
      expect(Date.parse(state.startedAt)).toBeGreaterThan(0);

      await docker(['pause', web.ids[0] as string]);
      expect(await containerState(web.ids[0] as string)).toMatchObject({ status: 'paused', paused: true });
      await docker(['unpause', web.ids[0] as string]);
    } finally {
      await web.cleanup();
    }
    await web.cleanup(); // twice is fine
    expect(await containerExists(web.ids[0] as string)).toBe(false);
    await assertNoLeftovers({ containerLabel: `simian.test.run=${web.runId}`, graceMs: 0 });
  });

  it('applies the restart policy', async () => {
    const web = await startWebContainers({ count: 1, restartPolicy: 'always' });
    created.push(...web.ids);
    try {
      const id = web.ids[0] as string;
      const info = (await inspectContainer(id)) as { HostConfig?: { RestartPolicy?: { Name?: string } } };
      expect(info.HostConfig?.RestartPolicy?.Name).toBe('always');
      // The container's own process dying (not `docker kill`) is what a restart policy reacts to.
      const { pid } = await containerState(id);
      process.kill(pid, 'SIGKILL');
      const after = await waitForContainerState(id, (s) => s.restartCount >= 1 && s.running, 20_000);
      expect(after.restartCount).toBeGreaterThanOrEqual(1);
    } finally {
      await web.cleanup();
    }
  });

  it('puts the demo balancer in front of containers', async () => {
    const web = await startWebContainers({ count: 2 });
    created.push(...web.ids);
    const lb = await startDemoBalancer({ backends: web.ports.map((p) => `127.0.0.1:${p}`) });
    try {
      await docker(['pause', web.ids[0] as string]);
      for (let i = 0; i < 4; i++)
        expect(await get(`${lb.url}/health`)).toEqual({ status: 200, body: 'ok\n' });
      await docker(['pause', web.ids[1] as string]);
      expect((await get(`${lb.url}/health`)).status).toBe(504);
    } finally {
      await lb.close();
      await web.cleanup();
    }
  });

  it('removes containers that are already gone without complaint', async () => {
    await removeContainers(['0123456789ab0123456789ab0123456789ab0123456789ab0123456789abcdef']);
    await removeContainers([]);
  });

  it('uses the image built by the global setup', async () => {
    const { stdout } = await docker([
      'image',
      'inspect',
      '--format',
      '{{index .Config.Labels "simian.test.image"}}',
      TEST_IMAGE,
    ]);
    expect(stdout.trim()).toBe('1');
  });
});
