import { type ChildProcess, spawn } from 'node:child_process';
import { once } from 'node:events';

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
