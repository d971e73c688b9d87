import type { ChildProcess } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { once } from 'node:events';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import type { Target, WireFault } from '@simian/protocol';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { killChildren, processState, spawnLabelledSleeper } from '../../../../test/helpers/processes.js';
import { errorOf, waitFor } from '../../../../test/helpers/wait.js';

import type { AppliedFault, FaultContext, RevertOutcome, TargetDriver } from '../drivers/driver.js';
import { readProcStat } from '../drivers/process/proc.js';
import { ProcessDriver } from '../drivers/process/process-driver.js';
import { Ledger } from '../ledger/ledger.js';
import { FaultRunner, type RevertedEvent } from './fault-runner.js';

const run = randomUUID();
const children: ChildProcess[] = [];
const runners: FaultRunner[] = [];
let dir: string;
let ledgerPath: string;

/**
 * The real process driver with failures switched on by the test, for the paths no real process
 * can be made to take on demand (an apply that fails half-way, a revert that fails).
 */
class FailingDriver implements TargetDriver {
  readonly name = 'process' as const;
  readonly inner = new ProcessDriver();
  failApply: Error | undefined;
  failReverts = 0;
  reverts = 0;

  list: TargetDriver['list'] = (...args) => this.inner.list(...args);
  available = () => this.inner.available();

  renew: TargetDriver['renew'] = (...args) => this.inner.renew(...args);

  async apply(target: Target, fault: WireFault, context: FaultContext): Promise<AppliedFault> {
    const applied = await this.inner.apply(target, fault, context);
    if (this.failApply) throw this.failApply;
    return applied;
  }

  async revert(
    target: Target,
    fault: WireFault,
    context: Pick<FaultContext, 'faultId'>,
  ): Promise<RevertOutcome> {
    this.reverts += 1;
    if (this.failReverts > 0) {
      this.failReverts -= 1;
      throw new Error('revert refused by the test');
    }
    return this.inner.revert(target, fault, context);
  }
}

beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), 'simian-runner-'));
  ledgerPath = join(dir, 'state', 'ledger.json');
});

afterEach(async () => {
  for (const runner of runners.splice(0)) runner.close();
  await killChildren(children.splice(0));
  await rm(dir, { recursive: true, force: true });
});

async function startTarget(
  labels: Record<string, string> = {},
): Promise<{ child: ChildProcess; pid: number; target: Target }> {
  const all = { 'simian.test': 'agent-unit', 'simian.test/run': run, ...labels };
  const child = await spawnLabelledSleeper(all);
  children.push(child);
  const pid = child.pid ?? 0;
  const stat = await readProcStat(pid);
  const target: Target = {
    driver: 'process',
    id: `${pid}:${stat?.startTime}`,
    name: `sleep[${pid}]`,
    labels: all,
    agent: 'agent-1',
  };
  return { child, pid, target };
}

async function newRunner(
  options: { driver?: TargetDriver; onAutoRevert?: (event: RevertedEvent) => void; recover?: boolean } = {},
): Promise<FaultRunner> {
  const runner = new FaultRunner({
    ledger: await Ledger.open(ledgerPath),
    drivers: [options.driver ?? new ProcessDriver()],
    retryMinMs: 50,
    retryMaxMs: 200,
    ...(options.onAutoRevert ? { onAutoRevert: options.onAutoRevert } : {}),
  });
  runners.push(runner);
  if (options.recover !== false) await runner.recover();
  return runner;
}

async function onDisk(): Promise<string[]> {
  return (await Ledger.open(ledgerPath)).entries().map((entry) => entry.faultId);
}

describe('FaultRunner', () => {
  it('records before applying, and reverts by itself when the lease runs out', async () => {
    const { pid, target } = await startTarget();
    const events: RevertedEvent[] = [];
    const runner = await newRunner({ onAutoRevert: (event) => events.push(event) });

    const before = Date.now();
    const applied = await runner.apply({
      faultId: 'f1',
      runId: 'r1',
      target,
      fault: { type: 'pause' },
      leaseMs: 300,
    });
    expect(applied.injectedAt).toBeGreaterThanOrEqual(before);
    expect(applied.leaseExpiresAt).toBe(applied.injectedAt + 300);
    expect(applied.detail).toBe(`SIGSTOP sent to pid ${pid}`);
    await waitFor(async () => (await processState(pid)) === 'T');
    expect(await onDisk()).toEqual(['f1']);
    expect(runner.active()).toEqual([
      {
        faultId: 'f1',
        runId: 'r1',
        target,
        fault: { type: 'pause' },
        leaseExpiresAt: applied.leaseExpiresAt,
      },
    ]);

    await waitFor(() => events.length === 1);
    expect(events[0]).toMatchObject({
      faultId: 'f1',
      runId: 'r1',
      reason: 'lease-expired',
      outcome: 'reverted',
    });
    expect(events[0]?.revertedAt).toBeGreaterThanOrEqual(applied.leaseExpiresAt);
    await waitFor(async () => (await processState(pid)) === 'S');
    expect(runner.active()).toEqual([]);
    expect(await onDisk()).toEqual([]);
    expect(runner.renew(['f1'], 1_000)).toEqual(['f1']);
  });

  it('keeps a renewed fault, and answers a repeated revert with the first result', async () => {
    const { pid, target } = await startTarget();
    const events: RevertedEvent[] = [];
    const runner = await newRunner({ onAutoRevert: (event) => events.push(event) });
    await runner.apply({ faultId: 'f1', runId: 'r1', target, fault: { type: 'pause' }, leaseMs: 200 });
    for (let i = 0; i < 6; i++) {
      await sleep(100);
      expect(runner.renew(['f1', 'unknown'], 200)).toEqual(['unknown']);
    }
    expect(events).toEqual([]);
    expect(await processState(pid)).toBe('T');

    const reverted = await runner.revert('f1', 'requested');
    expect(reverted.outcome).toBe('reverted');
    expect(await runner.revert('f1', 'requested')).toEqual(reverted);
    expect((await runner.revert('never-applied', 'requested')).outcome).toBe('nothing-to-revert');
    await waitFor(async () => (await processState(pid)) === 'S');
    await sleep(300);
    expect(events).toEqual([]);
  });

  it('drops instantaneous faults from the ledger right after the reply, and never applies a faultId twice', async () => {
    const { child, target } = await startTarget();
    const runner = await newRunner();
    const exited = once(child, 'exit');
    const fault: WireFault = { type: 'kill', signal: 'SIGTERM' };
    const applied = await runner.apply({ faultId: 'k1', runId: 'r1', target, fault, leaseMs: 10_000 });
    expect((await exited)[1]).toBe('SIGTERM');
    expect(runner.active()).toEqual([]);
    // The removal runs off the reply path; it lands within a few writes.
    for (let i = 0; i < 50 && (await onDisk()).length > 0; i++) await new Promise((r) => setTimeout(r, 20));
    expect(await onDisk()).toEqual([]);
    // Applying again would fail (the process is gone): the repeat is answered, not executed.
    expect(await runner.apply({ faultId: 'k1', runId: 'r1', target, fault, leaseMs: 10_000 })).toEqual(
      applied,
    );
    expect((await runner.revert('k1', 'requested')).outcome).toBe('nothing-to-revert');

    const { target: other } = await startTarget();
    const [first, second] = await Promise.all([
      runner.apply({ faultId: 'n1', runId: 'r1', target: other, fault: { type: 'noop' }, leaseMs: 1_000 }),
      runner.apply({ faultId: 'n1', runId: 'r1', target: other, fault: { type: 'noop' }, leaseMs: 1_000 }),
    ]);
    expect(first).toBe(second);
    expect(first.detail).toBe('noop');
  });

  it('refuses protected targets and unknown drivers, leaving nothing in the ledger', async () => {
    const { pid, target } = await startTarget({ 'simian.dev/protected': 'true' });
    const runner = await newRunner();
    const stale = { ...target, labels: {} };
    expect(
      (
        await errorOf(
          runner.apply({
            faultId: 'p1',
            runId: 'r1',
            target: stale,
            fault: { type: 'pause' },
            leaseMs: 1_000,
          }),
        )
      ).code,
    ).toBe('SIMIAN_TARGET_PROTECTED');
    const docker: Target = { ...target, driver: 'docker' };
    expect(
      (
        await errorOf(
          runner.apply({
            faultId: 'p2',
            runId: 'r1',
            target: docker,
            fault: { type: 'pause' },
            leaseMs: 1_000,
          }),
        )
      ).code,
    ).toBe('SIMIAN_FAULT_UNSUPPORTED');
    expect(
      (
        await errorOf(
          runner.apply({
            faultId: 'p3',
            runId: 'r1',
            target,
            fault: { type: 'stop', timeout: '1s' },
            leaseMs: 1_000,
          }),
        )
      ).code,
    ).toBe('SIMIAN_FAULT_UNSUPPORTED');
    expect(await onDisk()).toEqual([]);
    expect(runner.active()).toEqual([]);
    expect(await processState(pid)).toBe('S');
  });

  it('undoes a fault whose apply failed half-way, and reports SIMIAN_INJECT_FAILED', async () => {
    const { pid, target } = await startTarget();
    const driver = new FailingDriver();
    driver.failApply = new Error('lost track after SIGSTOP');
    const runner = await newRunner({ driver });
    const error = await errorOf(
      runner.apply({ faultId: 'f1', runId: 'r1', target, fault: { type: 'pause' }, leaseMs: 1_000 }),
    );
    expect(error.code).toBe('SIMIAN_INJECT_FAILED');
    expect(error.message).toContain('lost track after SIGSTOP');
    expect(driver.reverts).toBe(1);
    await waitFor(async () => (await processState(pid)) === 'S');
    expect(await onDisk()).toEqual([]);
    expect(runner.active()).toEqual([]);
  });

  it('keeps a fault whose revert failed in the ledger, and retries until it is reverted', async () => {
    const { pid, target } = await startTarget();
    const driver = new FailingDriver();
    const events: RevertedEvent[] = [];
    const runner = await newRunner({ driver, onAutoRevert: (event) => events.push(event) });
    await runner.apply({ faultId: 'f1', runId: 'r1', target, fault: { type: 'pause' }, leaseMs: 60_000 });
    driver.failReverts = 2;

    const error = await errorOf(runner.revert('f1', 'requested'));
    expect(error.code).toBe('SIMIAN_REVERT_FAILED');
    expect(error.message).toContain('revert refused by the test');
    expect(await onDisk()).toEqual(['f1']);
    expect(runner.active().map((f) => f.faultId)).toEqual(['f1']);

    await waitFor(() => events.length === 1);
    expect(events[0]).toMatchObject({ faultId: 'f1', reason: 'requested', outcome: 'reverted' });
    expect(driver.reverts).toBe(3);
    await waitFor(async () => (await processState(pid)) === 'S');
    expect(await onDisk()).toEqual([]);
  });

  it('recovers a fault left in the ledger by a crashed agent before accepting work', async () => {
    const { pid, target } = await startTarget();
    // The crashed agent: it recorded the fault, paused the process, and died.
    const crashed = await Ledger.open(ledgerPath);
    const now = Date.now();
    await crashed.record({
      faultId: 'f1',
      runId: 'r1',
      target,
      fault: { type: 'pause' },
      leaseExpiresAt: now + 60_000,
      recordedAt: now,
    });
    process.kill(pid, 'SIGSTOP');
    await waitFor(async () => (await processState(pid)) === 'T');

    const runner = await newRunner({ recover: false });
    await expect(
      runner.apply({ faultId: 'f2', runId: 'r2', target, fault: { type: 'noop' }, leaseMs: 1_000 }),
    ).rejects.toThrow('recover() must finish');
    expect(runner.active().map((f) => f.faultId)).toEqual([]);
    const recovered = await runner.recover();
    expect(recovered).toEqual([
      expect.objectContaining({ faultId: 'f1', runId: 'r1', reason: 'ledger-recovery', outcome: 'reverted' }),
    ]);
    await waitFor(async () => (await processState(pid)) === 'S');
    expect(await onDisk()).toEqual([]);
    // The same faultId is not applied again after recovery.
    const again = await runner.apply({
      faultId: 'f1',
      runId: 'r1',
      target,
      fault: { type: 'pause' },
      leaseMs: 1_000,
    });
    expect(again.injectedAt).toBe(now);
    expect(await processState(pid)).toBe('S');
  });

  it('reverts everything it holds on shutdown', async () => {
    const a = await startTarget();
    const b = await startTarget();
    const runner = await newRunner();
    await runner.apply({
      faultId: 'a',
      runId: 'r1',
      target: a.target,
      fault: { type: 'pause' },
      leaseMs: 60_000,
    });
    await runner.apply({
      faultId: 'b',
      runId: 'r1',
      target: b.target,
      fault: { type: 'pause' },
      leaseMs: 60_000,
    });
    const events = await runner.revertAll('agent-shutdown');
    expect(events.map((e) => [e.faultId, e.reason, e.outcome]).sort()).toEqual([
      ['a', 'agent-shutdown', 'reverted'],
      ['b', 'agent-shutdown', 'reverted'],
    ]);
    await waitFor(async () => (await processState(a.pid)) === 'S' && (await processState(b.pid)) === 'S');
    expect(await onDisk()).toEqual([]);

    const targets = await runner.listTargets('process', { labels: { 'simian.test/run': run } }, 'agent-1');
    expect(targets.map((t) => t.id).sort()).toEqual([a.target.id, b.target.id].sort());
  });
});
