import { open, rename, rm } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';

let tempCounter = 0;

/**
 * Replaces the file at `path` with `data` so that after a crash it holds either the old content or
 * the new, never a torn one: `data` is written to a temporary file beside it (mode 0600), fsynced,
 * renamed over `path`, and the directory fsynced. The directory must exist. On failure the
 * temporary file is removed and the error is rethrown unchanged, for the caller to name what failed.
 */
export async function writeFileDurably(path: string, data: string | Uint8Array): Promise<void> {
  const directory = dirname(path);
  tempCounter += 1;
  const temp = join(directory, `.${basename(path)}.${process.pid}.${tempCounter}.tmp`);
  try {
    const file = await open(temp, 'w', 0o600);
    try {
      await file.writeFile(data);
      await file.sync();
    } finally {
      await file.close();
    }
    await rename(temp, path);
    await syncDirectory(directory);
  } catch (error) {
    await rm(temp, { force: true });
    throw error;
  }
}

/** Makes a rename durable: the directory entry itself must reach the disk. */
async function syncDirectory(directory: string): Promise<void> {
  const handle = await open(directory, 'r');
  try {
    await handle.sync();
  } catch (error) {
    // Some filesystems refuse fsync on a directory; the rename is then as durable as they allow.
    if (!['EINVAL', 'EISDIR', 'EPERM'].includes((error as NodeJS.ErrnoException).code ?? '')) throw error;
  } finally {
    await handle.close();
  }
}
