import { type ChildProcess, spawn } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { once } from 'node:events';
import { setTimeout as sleep } from 'node:timers/promises';
import { isSimianError, type Target } from '@simian/protocol';
import { afterEach, describe, expect, it } from 'vitest';
import { killChildren, processState, spawnLabelledSleeper } from '../../../../../test/helpers/processes.js';
import { waitFor } from '../../../../../test/helpers/wait.js';

import { parseLabels, parseProcStat, readProcStat } from './proc.js';
import { ProcessDriver } from './process-driver.js';

/** These faults leave nothing named after their fault id; any id and lease do. */
const ctx = { faultId: 'unit-test-fault', leaseMs: 30_000 };

const run = randomUUID();
const children: ChildProcess[] = [];
const driver = new ProcessDriver();

/** A `sleep 60` carrying the given labels plus this file's run label. */
async function startChild(labels: Record<string, string>): Promise<ChildProcess & { pid: number }> {
  const all = { 'simian.test': 'agent-unit', 'simian.test/run': run, ...labels };
  const child = await spawnLabelledSleeper(all);
  children.push(child);
  return child;
}

async function targetOf(pid: number): Promise<Target> {
  const targets = await driver.list({ labels: { 'simian.test/run': run } }, 'agent-1');
  const target = targets.find((t) => t.id.startsWith(`${pid}:`));
  if (!target) throw new Error(`pid ${pid} not listed`);
  return target;
}

async function codeOf(promise: Promise<unknown>): Promise<string> {
  try {
    await promise;
  } catch (error) {
    if (isSimianError(error)) return error.code;
    throw error;
  }
  throw new Error('expected a SimianError');
}

afterEach(async () => {
  await killChildren(children.splice(0));
});

describe('proc parsing', () => {
  it('reads fields after a comm that contains spaces and parentheses', () => {
    const fields = Array.from({ length: 50 }, (_, i) => String(i + 3));
    const stat = parseProcStat(42, `42 (a) b (c) ${fields.join(' ')}`);
    expect(stat).toEqual({ pid: 42, comm: 'a) b (c', state: '3', startTime: '22' });
  });

  it('parses SIMIAN_LABELS', () => {
    expect(parseLabels(' app=web , tier=front,url=a=b,,bad, =x')).toEqual({
      app: 'web',
      tier: 'front',
      url: 'a=b',
    });
  });
});

describe('ProcessDriver', () => {
  it('lists labelled processes with pid:starttime ids, names and zones, but never protected ones', async () => {
    const plain = await startChild({ role: 'plain' });
    const named = await startChild({
      role: 'named',
      'simian.dev/name': 'worker-1',
      'simian.dev/zone': 'zone-b',
    });
    const guarded = await startChild({ role: 'guarded', 'simian.dev/protected': 'true' });
    const unlabelled = spawn('sleep', ['60'], { stdio: 'ignore' });
    children.push(unlabelled);
    await once(unlabelled, 'spawn');

    const targets = await driver.list({ labels: { 'simian.test/run': run } }, 'agent-1', 'zone-a');
    const pids = targets.map((t) => Number(t.id.split(':')[0]));
    expect(pids.sort()).toEqual([plain.pid, named.pid].sort());
    expect(pids).not.toContain(guarded.pid);
    expect(pids).not.toContain(unlabelled.pid);

    const plainTarget = targets.find((t) => t.id.startsWith(`${plain.pid}:`));
    const stat = await readProcStat(plain.pid);
    expect(plainTarget).toEqual({
      driver: 'process',
      id: `${plain.pid}:${stat?.startTime}`,
      name: `sleep[${plain.pid}]`,
      labels: { 'simian.test': 'agent-unit', 'simian.test/run': run, role: 'plain' },
      zone: 'zone-a',
      agent: 'agent-1',
    });
    const namedTarget = targets.find((t) => t.id.startsWith(`${named.pid}:`));
    expect(namedTarget).toMatchObject({ name: 'worker-1', zone: 'zone-b' });

    const inZoneB = await driver.list(
      { labels: { 'simian.test/run': run }, zone: 'zone-b' },
      'agent-1',
      'zone-a',
    );
    expect(inZoneB.map((t) => t.name)).toEqual(['worker-1']);
    const byRole = await driver.list({ labels: { 'simian.test/run': run, role: 'plain' } }, 'agent-1');
    expect(byRole.map((t) => t.id)).toEqual([plainTarget?.id]);
  });

  it('pauses with SIGSTOP and resumes with SIGCONT; reverting twice is safe', async () => {
    const child = await startChild({ role: 'pause' });
    const target = await targetOf(child.pid);

    const applied = await driver.apply(target, { type: 'pause' }, ctx);
    expect(applied.detail).toBe(`SIGSTOP sent to pid ${child.pid}`);
    await waitFor(async () => (await processState(child.pid)) === 'T');

    expect(await driver.revert(target, { type: 'pause' }, ctx)).toEqual({
      outcome: 'reverted',
      detail: `SIGCONT sent to pid ${child.pid}`,
    });
    await waitFor(async () => (await processState(child.pid)) === 'S');
    expect((await driver.revert(target, { type: 'pause' }, ctx)).outcome).toBe('nothing-to-revert');
  });

  it('refuses to pause a process someone else stopped, and leaves it stopped', async () => {
    const child = await startChild({ role: 'stopped-by-someone' });
    const target = await targetOf(child.pid);
    process.kill(child.pid, 'SIGSTOP');
    await waitFor(async () => (await processState(child.pid)) === 'T');
    await expect(driver.apply(target, { type: 'pause' }, ctx)).rejects.toMatchObject({
      code: 'SIMIAN_INJECT_FAILED',
      message: `process ${target.id} (${target.name}) is already stopped`,
    });
    expect(await processState(child.pid)).toBe('T');
    process.kill(child.pid, 'SIGCONT');
  });

  it('kills with the fault signal, and kill has nothing to revert', async () => {
    const child = await startChild({ role: 'kill' });
    const target = await targetOf(child.pid);
    const exited = once(child, 'exit');

    const applied = await driver.apply(target, { type: 'kill', signal: 'SIGTERM' }, ctx);
    expect(applied.detail).toBe(`SIGTERM sent to pid ${child.pid}`);
    const [code, signal] = await exited;
    expect({ code, signal }).toEqual({ code: null, signal: 'SIGTERM' });
    expect(await driver.revert(target, { type: 'kill', signal: 'SIGTERM' }, ctx)).toEqual({
      outcome: 'nothing-to-revert',
    });

    // The process is gone now: apply finds nothing, revert says so.
    expect(await codeOf(driver.apply(target, { type: 'pause' }, ctx))).toBe('SIMIAN_TARGET_NOT_FOUND');
    expect((await driver.revert(target, { type: 'pause' }, ctx)).outcome).toBe('target-gone');
  });

  it('never touches a different process that has the same pid', async () => {
    const child = await startChild({ role: 'reused' });
    const target = await targetOf(child.pid);
    const startTime = Number(target.id.split(':')[1]);
    const impostor: Target = { ...target, id: `${child.pid}:${startTime + 1}` };

    expect(await codeOf(driver.apply(impostor, { type: 'pause' }, ctx))).toBe('SIMIAN_TARGET_NOT_FOUND');
    expect(await codeOf(driver.apply(impostor, { type: 'kill', signal: 'SIGKILL' }, ctx))).toBe(
      'SIMIAN_TARGET_NOT_FOUND',
    );

    // A paused process must not be resumed by a revert meant for another one.
    process.kill(child.pid, 'SIGSTOP');
    await waitFor(async () => (await processState(child.pid)) === 'T');
    expect((await driver.revert(impostor, { type: 'pause' }, ctx)).outcome).toBe('target-gone');
    expect(await processState(child.pid)).toBe('T');
    expect(child.exitCode).toBeNull();
  });

  it('refuses a protected process by its current labels, whatever the request says', async () => {
    const child = await startChild({ role: 'guarded', 'simian.dev/protected': 'true' });
    const stat = await readProcStat(child.pid);
    const target: Target = {
      driver: 'process',
      id: `${child.pid}:${stat?.startTime}`,
      name: 'looks-harmless',
      labels: { role: 'guarded' },
      agent: 'agent-1',
    };
    expect(await codeOf(driver.apply(target, { type: 'pause' }, ctx))).toBe('SIMIAN_TARGET_PROTECTED');
    expect(await codeOf(driver.apply(target, { type: 'kill', signal: 'SIGKILL' }, ctx))).toBe(
      'SIMIAN_TARGET_PROTECTED',
    );
    expect(await codeOf(driver.apply(target, { type: 'noop' }, ctx))).toBe('SIMIAN_TARGET_PROTECTED');
    await sleep(50);
    expect(await processState(child.pid)).toBe('S');
  });

  it('rejects faults the process driver cannot apply, and treats noop as nothing', async () => {
    const child = await startChild({ role: 'noop' });
    const target = await targetOf(child.pid);
    expect(await codeOf(driver.apply(target, { type: 'stop', timeout: '1s' }, ctx))).toBe(
      'SIMIAN_FAULT_UNSUPPORTED',
    );
    expect(await codeOf(driver.revert(target, { type: 'restart', timeout: '1s' }, ctx))).toBe(
      'SIMIAN_FAULT_UNSUPPORTED',
    );
    expect(await driver.apply(target, { type: 'noop' }, ctx)).toEqual({ detail: 'noop' });
    expect((await driver.revert(target, { type: 'noop' }, ctx)).outcome).toBe('nothing-to-revert');
    expect(await driver.available()).toBe(true);
  });
});
