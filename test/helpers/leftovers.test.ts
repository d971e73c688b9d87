import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { describe, expect, it } from 'vitest';
import { assertNoLeftovers, isProcessAlive } from './leftovers.js';

function spawnSleeper() {
  const child = spawn(process.execPath, ['-e', 'setInterval(() => {}, 1000)'], { stdio: 'ignore' });
  if (child.pid === undefined) throw new Error('spawn failed');
  return { child, pid: child.pid };
}

describe('assertNoLeftovers', () => {
  it('passes when the processes are gone', async () => {
    const { child, pid } = spawnSleeper();
    expect(isProcessAlive(pid)).toBe(true);
    child.kill('SIGKILL');
    await once(child, 'exit');
    expect(isProcessAlive(pid)).toBe(false);
    await assertNoLeftovers({ pids: [pid], graceMs: 0 });
  });

  it('waits for a process that is on its way out', async () => {
    const { child, pid } = spawnSleeper();
    setTimeout(() => child.kill('SIGKILL'), 200);
    await assertNoLeftovers({ pids: [pid], graceMs: 5_000 });
  });

  it('reports and kills a process still running, paused or not', async () => {
    const { child, pid } = spawnSleeper();
    process.kill(pid, 'SIGSTOP');
    const exited = once(child, 'exit');
    await expect(assertNoLeftovers({ pids: [pid], graceMs: 100 })).rejects.toThrow(
      `1 process(es) still running: pid ${pid}`,
    );
    await exited;
    expect(isProcessAlive(pid)).toBe(false);
  });

  it('checks containers by label', async () => {
    // A label no container carries: passes with or without a Docker Engine.
    await assertNoLeftovers({ containerLabel: `simian.test.run=${crypto.randomUUID()}`, graceMs: 0 });
  });
});
