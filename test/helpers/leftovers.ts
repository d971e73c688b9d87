// Checks that a test left nothing behind: no container with its label, no process it spawned.
import { readFileSync } from 'node:fs';
import { setTimeout as sleep } from 'node:timers/promises';
import { isDockerReachable, listContainers, removeContainers } from './docker-fixtures.js';

export interface LeftoverCheck {
  /** A container label, `key` or `key=value` (e.g. `simian.test.run=<uuid>`); no container may carry it. */
  containerLabel?: string;
  /** Process ids that must no longer be running. */
  pids?: readonly number[];
  /**
   * How long to wait for processes and containers to go away before reporting them: a process
   * that was just sent SIGKILL can take a moment to disappear.
   * @default 2000
   */
  graceMs?: number;
}

/**
 * Whether a process with this pid is running. A zombie (exited, not yet reaped by its parent)
 * counts as gone: it runs no code and holds no port.
 */
export function isProcessAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
  } catch (err) {
    // EPERM: it exists but belongs to someone else.
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    // The state follows the parenthesised command name, which may itself contain spaces or ')'.
    const state = stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3);
    return state !== 'Z' && state !== 'X';
  } catch {
    // No /proc (not Linux) or it vanished between the two checks.
    return process.platform !== 'linux';
  }
}

/**
 * Throws if a container carrying `containerLabel` still exists or a pid in `pids` still runs,
 * after waiting up to `graceMs` for them to go. What it reports it also cleans up (containers
 * removed, processes SIGCONT + SIGKILLed) so that one leaky test does not break the next ones.
 * The container check is skipped when no Docker Engine answers (then the test cannot have
 * created any).
 */
export async function assertNoLeftovers(check: LeftoverCheck): Promise<void> {
  const { containerLabel, pids = [], graceMs = 2_000 } = check;
  const checkContainers = containerLabel !== undefined && (await isDockerReachable());
  const deadline = Date.now() + graceMs;
  let containers: string[] = [];
  let alive: number[] = [];
  for (;;) {
    containers = checkContainers ? await listContainers(containerLabel) : [];
    alive = pids.filter(isProcessAlive);
    if ((containers.length === 0 && alive.length === 0) || Date.now() >= deadline) break;
    await sleep(100);
  }
  if (containers.length === 0 && alive.length === 0) return;

  const problems: string[] = [];
  if (containers.length > 0) {
    problems.push(
      `${containers.length} container(s) labelled ${containerLabel} still exist: ${containers.map((id) => id.slice(0, 12)).join(', ')}`,
    );
    await removeContainers(containers).catch((err: unknown) => {
      problems.push(`removing them failed too: ${err instanceof Error ? err.message : String(err)}`);
    });
  }
  if (alive.length > 0) {
    problems.push(`${alive.length} process(es) still running: pid ${alive.join(', ')}`);
    for (const pid of alive) {
      for (const signal of ['SIGCONT', 'SIGKILL'] as const) {
        try {
          process.kill(pid, signal);
        } catch {
          // Gone in the meantime.
        }
      }
    }
  }
  throw new Error(`test left resources behind (now cleaned up):\n  ${problems.join('\n  ')}`);
}
