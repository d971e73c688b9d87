import { type ChildProcess, spawn } from 'node:child_process';
import { once } from 'node:events';
import { readFile } from 'node:fs/promises';

/**
 * A `sleep` carrying labels in SIMIAN_LABELS, the way the process driver finds targets. The
 * caller owns it: kill it by pid in afterEach (SIGCONT first if a test may have paused it).
 */
export async function spawnLabelledSleeper(
  labels: Record<string, string>,
  seconds = 60,
): Promise<ChildProcess & { pid: number }> {
  const child = spawn('sleep', [String(seconds)], {
    env: {
      ...process.env,
      SIMIAN_LABELS: Object.entries(labels)
        .map(([key, value]) => `${key}=${value}`)
        .join(','),
    },
    stdio: 'ignore',
  });
  // 'spawn' fires after exec, so /proc/<pid>/environ already holds the child's own environment.
  await once(child, 'spawn');
  if (child.pid === undefined) throw new Error('sleeper has no pid');
  return child as ChildProcess & { pid: number };
}

/** The state letter of /proc/PID/stat (R, S, T for stopped, ...) or 'gone'. */
export async function processState(pid: number): Promise<string> {
  try {
    const stat = await readFile(`/proc/${pid}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2).split(' ')[0] ?? 'gone';
  } catch {
    return 'gone';
  }
}

/** Whether every process of `pids` is stopped (state T), as a pause fault leaves it. */
export async function allStopped(pids: readonly number[]): Promise<boolean> {
  return (await Promise.all(pids.map(processState))).every((state) => state === 'T');
}

/** SIGKILLs each child that is still running and waits until it has exited. */
export async function killChildren(children: readonly ChildProcess[]): Promise<void> {
  for (const child of children) {
    if (child.exitCode === null && child.signalCode === null) {
      const exited = once(child, 'exit');
      child.kill('SIGKILL');
      await exited;
    }
  }
}
