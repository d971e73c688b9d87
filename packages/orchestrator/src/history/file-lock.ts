import { randomBytes } from 'node:crypto';
import { link, open, readFile, rename, rm, stat } from 'node:fs/promises';
import { SimianError } from '@simian/protocol';
import { currentOwner, isOwnerAlive } from './process-owner.js';

export interface FileLockOptions {
  /** @default 10000 */
  timeoutMs?: number;
  /** A lock file without a readable owner is taken for a crash's leftover after this long. @default 5000 */
  unreadableAfterMs?: number;
}

/**
 * Runs `fn` while holding `lockPath`, a file created exclusively and holding the owner's pid and
 * start time. Several processes (`simian serve`, embedded `simian run`s) write the same history
 * file; each write reads the latest file under this lock, so none loses another's rows. A lock left
 * by a process that died is broken.
 */
export async function withFileLock<T>(
  lockPath: string,
  fn: () => Promise<T>,
  options: FileLockOptions = {},
): Promise<T> {
  await acquire(lockPath, options);
  try {
    return await fn();
  } finally {
    await rm(lockPath, { force: true });
  }
}

async function acquire(lockPath: string, options: FileLockOptions): Promise<void> {
  const me = await currentOwner();
  const deadline = Date.now() + (options.timeoutMs ?? 10_000);
  let holder = '';
  for (;;) {
    try {
      const handle = await open(lockPath, 'wx', 0o600);
      try {
        await handle.writeFile(`${me.pid} ${me.startTime}\n`);
      } finally {
        await handle.close();
      }
      return;
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
    }
    const content = await readFile(lockPath, 'utf8').catch(() => undefined);
    if (content === undefined) continue; // released meanwhile
    holder = content.trim();
    if (await isStale(lockPath, content, options.unreadableAfterMs ?? 5_000)) {
      await breakLock(lockPath, content);
      continue;
    }
    if (Date.now() >= deadline) {
      throw new SimianError(
        'SIMIAN_HISTORY_UNAVAILABLE',
        `the run history is locked by process ${holder.split(' ')[0] || '?'} (${lockPath})`,
        {
          hint: `another simian process is writing it; if none runs, remove ${lockPath}`,
        },
      );
    }
    await new Promise((resolve) => setTimeout(resolve, 10 + Math.random() * 20));
  }
}

async function isStale(lockPath: string, content: string, unreadableAfterMs: number): Promise<boolean> {
  const match = /^(\d+) (\d*)$/.exec(content.trim());
  if (match) return !(await isOwnerAlive({ pid: Number(match[1]), startTime: match[2] as string }));
  // Created but not yet written, or torn by a crash: only age tells the two apart.
  const info = await stat(lockPath).catch(() => undefined);
  return info !== undefined && Date.now() - info.mtimeMs > unreadableAfterMs;
}

/**
 * Moves the stale lock aside before deleting it, so that of two processes breaking it at once only
 * one succeeds. If what was moved turns out to be a fresh lock (its holder replaced the stale
 * one in between), it is put back with link(2), which never overwrites.
 */
async function breakLock(lockPath: string, staleContent: string): Promise<void> {
  const aside = `${lockPath}.stale-${randomBytes(6).toString('hex')}`;
  try {
    await rename(lockPath, aside);
  } catch {
    return; // somebody else moved or released it
  }
  const moved = await readFile(aside, 'utf8').catch(() => staleContent);
  if (moved !== staleContent) await link(aside, lockPath).catch(() => undefined);
  await rm(aside, { force: true });
}
