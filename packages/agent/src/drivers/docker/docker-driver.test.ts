import { execFile } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { copyFile, mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { promisify } from 'node:util';
import type { Target } from '@simian/protocol';
import Docker from 'dockerode';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { errorOf, waitFor } from '../../../../../test/helpers/wait.js';
import { DockerDriver } from './docker-driver.js';

/** These faults leave nothing named after their fault id; any id and lease do. */
const ctx = { faultId: 'unit-test-fault', leaseMs: 30_000 };

/** Docker restarts and exits take longer than a process signal. */
const DOCKER_WAIT_MS = 15_000;

const IMAGE = 'simian-test/busybox:1';
const run = randomUUID();
// The global setup says whether an Engine answered, and labels this test session's containers.
const dockerAvailable = inject('dockerAvailable') !== false;
const session = inject('testSession');
const docker = new Docker();
const driver = new DockerDriver({ docker });
const created: string[] = [];

/** The suite's image, built here when the global setup has not (same recipe and tag, idempotent). */
async function ensureImage(): Promise<void> {
  try {
    await docker.getImage(IMAGE).inspect();
    return;
  } catch {
    // Not there yet: build it.
  }
  const rootfs = await mkdtemp(join(tmpdir(), 'simian-busybox-'));
  try {
    await mkdir(join(rootfs, 'bin'));
    await mkdir(join(rootfs, 'www'));
    await copyFile('/bin/busybox', join(rootfs, 'bin', 'busybox'));
    await writeFile(join(rootfs, 'www', 'health'), 'ok\n');
    await promisify(execFile)('sh', ['-c', 'tar -C "$1" -c . | docker import - "$2"', 'sh', rootfs, IMAGE]);
  } finally {
    await rm(rootfs, { recursive: true, force: true });
  }
}

async function startContainer(
  role: string,
  options: { labels?: Record<string, string>; restart?: string } = {},
) {
  const container = await docker.createContainer({
    Image: IMAGE,
    name: `simian-agent-unit-${role}-${run.slice(0, 8)}`,
    Cmd: ['/bin/busybox', 'httpd', '-f', '-p', '80', '-h', '/www'],
    Labels: {
      'simian.test': 'agent-unit',
      'simian.test.run': run,
      ...(session ? { 'simian.test.session': session } : {}),
      role,
      ...options.labels,
    },
    HostConfig: options.restart ? { RestartPolicy: { Name: options.restart, MaximumRetryCount: 0 } } : {},
  });
  created.push(container.id);
  await container.start();
  return container;
}

function targetFor(container: Docker.Container, name: string, labels: Record<string, string> = {}): Target {
  return { driver: 'docker', id: container.id, name, labels, agent: 'agent-1' };
}

async function state(container: Docker.Container) {
  const info = await container.inspect();
  return { ...info.State, RestartCount: info.RestartCount };
}

let plain: Docker.Container;
let restartable: Docker.Container;
let guarded: Docker.Container;

beforeAll(async () => {
  if (!dockerAvailable) return;
  await ensureImage();
  [plain, restartable, guarded] = await Promise.all([
    startContainer('plain', { labels: { 'simian.dev/zone': 'zone-b' } }),
    startContainer('restartable', { restart: 'on-failure' }),
    startContainer('guarded', { labels: { 'simian.dev/protected': 'true' } }),
  ]);
});

afterAll(async () => {
  await Promise.allSettled(created.map((id) => docker.getContainer(id).remove({ force: true })));
});

describe.skipIf(!dockerAvailable)('DockerDriver', () => {
  it('lists running containers by label with full ids and bare names, never protected ones', async () => {
    expect(await driver.available()).toBe(true);
    const targets = await driver.list({ labels: { 'simian.test.run': run } }, 'agent-1', 'zone-a');
    expect(targets.map((t) => t.labels.role).sort()).toEqual(['plain', 'restartable']);
    const plainTarget = targets.find((t) => t.labels.role === 'plain');
    expect(plainTarget).toMatchObject({
      driver: 'docker',
      id: plain.id,
      name: `simian-agent-unit-plain-${run.slice(0, 8)}`,
      zone: 'zone-b',
      agent: 'agent-1',
    });
    expect(plain.id).toMatch(/^[0-9a-f]{64}$/);
    expect(targets.find((t) => t.labels.role === 'restartable')?.zone).toBe('zone-a');

    const zoneB = await driver.list(
      { labels: { 'simian.test.run': run }, zone: 'zone-b' },
      'agent-1',
      'zone-a',
    );
    expect(zoneB.map((t) => t.id)).toEqual([plain.id]);
    const byRole = await driver.list({ labels: { 'simian.test.run': run, role: 'guarded' } }, 'agent-1');
    expect(byRole).toEqual([]);
  });

  it('refuses a protected container by its current labels', async () => {
    const target = targetFor(guarded, 'guarded');
    const error = await errorOf(driver.apply(target, { type: 'pause' }, ctx));
    expect(error.code).toBe('SIMIAN_TARGET_PROTECTED');
    expect(error.message).toContain(guarded.id.slice(0, 12));
    expect((await state(guarded)).Paused).toBe(false);
  });

  it('pauses and unpauses; reverting twice is safe', async () => {
    const target = targetFor(plain, 'plain');
    await driver.apply(target, { type: 'pause' }, ctx);
    expect((await state(plain)).Paused).toBe(true);
    expect(await driver.revert(target, { type: 'pause' }, ctx)).toMatchObject({ outcome: 'reverted' });
    expect((await state(plain)).Paused).toBe(false);
    expect((await driver.revert(target, { type: 'pause' }, ctx)).outcome).toBe('nothing-to-revert');
  });

  it('stops with the fault timeout and starts again on revert', async () => {
    const target = targetFor(plain, 'plain');
    const applied = await driver.apply(target, { type: 'stop', timeout: '1s' }, ctx);
    expect(applied.detail).toContain('grace period 1s');
    expect((await state(plain)).Running).toBe(false);
    expect((await driver.revert(target, { type: 'stop', timeout: '1s' }, ctx)).outcome).toBe('reverted');
    expect((await state(plain)).Running).toBe(true);
    expect((await driver.revert(target, { type: 'stop', timeout: '1s' }, ctx)).outcome).toBe(
      'nothing-to-revert',
    );
  });

  it('restarts, with nothing to revert', async () => {
    const target = targetFor(plain, 'plain');
    const before = await state(plain);
    await driver.apply(target, { type: 'restart', timeout: '0s' }, ctx);
    const after = await state(plain);
    expect(after.Running).toBe(true);
    expect(after.StartedAt).not.toBe(before.StartedAt);
    expect((await driver.revert(target, { type: 'restart', timeout: '0s' }, ctx)).outcome).toBe(
      'nothing-to-revert',
    );
  });

  it('kills from the host so that the restart policy brings the container back', async () => {
    const target = targetFor(restartable, 'restartable');
    const pid = (await state(restartable)).Pid;
    const applied = await driver.apply(target, { type: 'kill', signal: 'SIGKILL' }, ctx);
    expect(applied.detail).toContain(`from the host to pid ${pid}`);
    await waitFor(
      async () => {
        const now = await state(restartable);
        return now.RestartCount >= 1 && now.Running && !now.Restarting && now.Pid !== pid;
      },
      DOCKER_WAIT_MS,
      50,
    );
  });

  it('thaws a paused container after a host SIGKILL, which only acts on a running process', async () => {
    const target = targetFor(restartable, 'restartable');
    const before = await state(restartable);
    await restartable.pause();
    const applied = await driver.apply(target, { type: 'kill', signal: 'SIGKILL' }, ctx);
    expect(applied.detail).toContain('unpaused it');
    await waitFor(
      async () => {
        const now = await state(restartable);
        return now.RestartCount > before.RestartCount && now.Running && !now.Restarting && !now.Paused;
      },
      DOCKER_WAIT_MS,
      50,
    );
  });

  it('kills a container without a restart policy for good (exit 137)', async () => {
    const target = targetFor(plain, 'plain');
    await driver.apply(target, { type: 'kill', signal: 'SIGKILL' }, ctx);
    await waitFor(async () => !(await state(plain)).Running, DOCKER_WAIT_MS, 50);
    await sleep(500);
    const after = await state(plain);
    expect({ running: after.Running, exitCode: after.ExitCode, restarts: after.RestartCount }).toEqual({
      running: false,
      exitCode: 137,
      restarts: 0,
    });
    // A container that is not running is no target any more.
    expect((await errorOf(driver.apply(target, { type: 'pause' }, ctx))).code).toBe(
      'SIMIAN_TARGET_NOT_FOUND',
    );
    expect((await driver.revert(target, { type: 'pause' }, ctx)).outcome).toBe('nothing-to-revert');
  });

  it('reports containers that are gone', async () => {
    const target: Target = {
      driver: 'docker',
      id: 'f'.repeat(64),
      name: 'ghost',
      labels: {},
      agent: 'agent-1',
    };
    const error = await errorOf(driver.apply(target, { type: 'pause' }, ctx));
    expect(error.code).toBe('SIMIAN_TARGET_NOT_FOUND');
    expect(error.message).toContain('ghost (ffffffffffff)');
    expect((await driver.revert(target, { type: 'pause' }, ctx)).outcome).toBe('target-gone');
    expect((await driver.revert(target, { type: 'stop', timeout: '1s' }, ctx)).outcome).toBe('target-gone');
  });

  it('says when the Docker Engine cannot be reached', async () => {
    const offline = new DockerDriver({ docker: new Docker({ socketPath: '/nonexistent/docker.sock' }) });
    expect(await offline.available()).toBe(false);
    const listError = await errorOf(offline.list({ labels: {} }, 'agent-1'));
    expect(listError.code).toBe('SIMIAN_DOCKER_UNAVAILABLE');
    expect(listError.message).toContain('unix:///nonexistent/docker.sock');
    const target = targetFor(plain, 'plain');
    const applyError = await errorOf(offline.apply(target, { type: 'pause' }, ctx));
    expect(applyError.code).toBe('SIMIAN_DOCKER_UNAVAILABLE');
    expect(applyError.message).toContain(`plain (${plain.id.slice(0, 12)})`);
    expect((await errorOf(offline.revert(target, { type: 'pause' }, ctx))).code).toBe(
      'SIMIAN_DOCKER_UNAVAILABLE',
    );
  });
});
