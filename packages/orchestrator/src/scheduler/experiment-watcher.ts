import { type Dirent, type FSWatcher, watch } from 'node:fs';
import { readdir } from 'node:fs/promises';
import { join } from 'node:path';
import type { Logger } from 'pino';

export interface ExperimentWatcherOptions {
  /** The directories named by `simian serve --experiments`. */
  dirs: readonly string[];
  /** Called once things settle after changes under the directories. */
  onChange: () => void;
  logger: Logger;
  /**
   * Quiet time after the last event before `onChange`: an editor's save is a burst of events
   * (write a temporary file, rename it over the old one, remove a backup). @default 200
   */
  debounceMs?: number;
  /**
   * `onChange` also runs this often, for file systems that drop or never send events (network and
   * some container mounts) and for a watched directory that was removed and created again. 0: never.
   * @default 60000
   */
  rescanMs?: number;
}

/**
 * Watches the experiment directories and every directory below them (one `fs.watch` each: the
 * recursive option is not dependable on Node 20 for Linux). It watches directories, not files, so
 * an editor that saves by renaming a new file over the old one is seen like any other write.
 * `onChange` only says "look again"; the caller rescans and compares.
 */
export class ExperimentWatcher {
  readonly #watchers = new Map<string, FSWatcher>();
  readonly #debounceMs: number;
  #debounce: NodeJS.Timeout | undefined;
  #rescan: NodeJS.Timeout | undefined;
  #closed = false;

  constructor(private readonly options: ExperimentWatcherOptions) {
    this.#debounceMs = options.debounceMs ?? 200;
    const rescanMs = options.rescanMs ?? 60_000;
    if (rescanMs > 0) {
      this.#rescan = setInterval(() => options.onChange(), rescanMs);
      this.#rescan.unref();
    }
  }

  /** Watches directories that appeared since the last call and forgets those that went away. */
  async sync(): Promise<void> {
    const wanted = new Set<string>();
    for (const root of this.options.dirs) await collectDirectories(root, wanted);
    if (this.#closed) return;
    for (const [dir, watcher] of this.#watchers) {
      if (wanted.has(dir)) continue;
      watcher.close();
      this.#watchers.delete(dir);
    }
    for (const dir of wanted) if (!this.#watchers.has(dir)) this.#watch(dir);
  }

  /** The directories watched now. */
  watched(): string[] {
    return [...this.#watchers.keys()].sort();
  }

  close(): void {
    this.#closed = true;
    clearTimeout(this.#debounce);
    clearInterval(this.#rescan);
    for (const watcher of this.#watchers.values()) watcher.close();
    this.#watchers.clear();
  }

  #watch(dir: string): void {
    let watcher: FSWatcher;
    try {
      // Not persistent: the watcher alone must not keep `simian serve` from exiting.
      watcher = watch(dir, { persistent: false }, () => this.#changed());
    } catch (error) {
      // Removed between listing and watching; the rescan it causes will not list it again.
      this.options.logger.debug({ dir, err: (error as Error).message }, 'cannot watch directory');
      this.#changed();
      return;
    }
    watcher.on('error', (error) => {
      this.options.logger.debug({ dir, err: error.message }, 'directory watch ended');
      watcher.close();
      if (this.#watchers.get(dir) === watcher) this.#watchers.delete(dir);
      this.#changed();
    });
    this.#watchers.set(dir, watcher);
  }

  #changed(): void {
    if (this.#closed) return;
    clearTimeout(this.#debounce);
    this.#debounce = setTimeout(() => {
      if (!this.#closed) this.options.onChange();
    }, this.#debounceMs);
    this.#debounce.unref();
  }
}

/** `root` and every directory below it, skipping `node_modules` and dot-directories as the loader does. */
async function collectDirectories(root: string, into: Set<string>): Promise<void> {
  let entries: Dirent[];
  try {
    entries = await readdir(root, { withFileTypes: true });
  } catch {
    return; // gone, or not a directory: nothing to watch there
  }
  into.add(root);
  for (const entry of entries) {
    if (!entry.isDirectory() || entry.name === 'node_modules' || entry.name.startsWith('.')) continue;
    await collectDirectories(join(root, entry.name), into);
  }
}
