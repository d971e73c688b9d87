import { mkdir, readFile, rename } from 'node:fs/promises';
import { dirname } from 'node:path';
import { writeFileDurably } from '@simian/agent';
import type { Logger } from 'pino';
import { z } from 'zod';
import { scheduledRunSchema, scheduleResultSchema } from './schedule-listing.js';

/** The file name of the scheduler's state in the state directory. */
export const SCHEDULER_STATE_FILE = 'scheduler-state.json';

const isoSchema = z.iso.datetime({ offset: false });

/** What the scheduler remembers of one schedule across restarts. */
export const scheduleRecordSchema = z.strictObject({
  /** The schedule it belongs to (its plan, serialized): a changed schedule starts afresh. */
  fingerprint: z.string(),
  /**
   * The next fire is the first one after this instant: the last fire handled (ran or skipped), or
   * when the schedule was first loaded. The missed-run policy starts from it.
   */
  countFrom: isoSchema,
  /** The last fire handled, for listings. */
  lastFire: isoSchema.optional(),
  lastResult: scheduleResultSchema.optional(),
  lastRun: scheduledRunSchema.optional(),
});
export type ScheduleRecord = z.infer<typeof scheduleRecordSchema>;

export const schedulerStateSchema = z.strictObject({
  apiVersion: z.literal('simian.dev/v1alpha1'),
  kind: z.literal('SchedulerState'),
  /** By schedule name (the experiment's `metadata.name`). */
  schedules: z.record(z.string(), scheduleRecordSchema),
});
export type SchedulerStateDocument = z.infer<typeof schedulerStateSchema>;

/**
 * The scheduler's memory across restarts, one small JSON file. Every save is durable: written to
 * a temporary file, fsynced, renamed over the old one and the directory fsynced, so a crash
 * leaves either the old state or the new one, never half of it. Saves are queued and coalesced:
 * only the latest state is written.
 */
export class ScheduleStateFile {
  #records = new Map<string, ScheduleRecord>();
  #queue: Promise<void> = Promise.resolve();
  #pending = false;

  constructor(
    readonly path: string,
    private readonly logger: Logger,
  ) {}

  /**
   * Reads the file. A missing file is a first start. A file that is not JSON or does not match the
   * schema is moved aside (`.corrupt-<time>`) and treated as a first start too: with no last fire,
   * nothing counts as missed, so the scheduler replays nothing it cannot vouch for.
   */
  async load(): Promise<void> {
    let text: string;
    try {
      text = await readFile(this.path, 'utf8');
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === 'ENOENT') return;
      throw error;
    }
    let problem: string;
    try {
      const parsed = schedulerStateSchema.safeParse(JSON.parse(text));
      if (parsed.success) {
        this.#records = new Map(Object.entries(parsed.data.schedules));
        return;
      }
      const issue = parsed.error.issues[0];
      problem = `${issue?.path.join('.') ?? ''}: ${issue?.message ?? 'invalid'}`;
    } catch (error) {
      problem = `not JSON: ${(error as Error).message}`;
    }
    const aside = `${this.path}.corrupt-${new Date().toISOString().replace(/[:.]/g, '')}`;
    await rename(this.path, aside);
    this.logger.warn(
      { file: this.path, movedTo: aside, problem },
      'scheduler state file unreadable; moved aside, starting as on a first start (no missed fires replayed)',
    );
  }

  get(name: string): ScheduleRecord | undefined {
    return this.#records.get(name);
  }

  set(name: string, record: ScheduleRecord): void {
    this.#records.set(name, scheduleRecordSchema.parse(record));
    this.#save();
  }

  /** Resolves once everything set so far is on disk. */
  async flush(): Promise<void> {
    await this.#queue;
  }

  #save(): void {
    if (this.#pending) return;
    this.#pending = true;
    this.#queue = this.#queue.then(async () => {
      this.#pending = false;
      const document: SchedulerStateDocument = {
        apiVersion: 'simian.dev/v1alpha1',
        kind: 'SchedulerState',
        schedules: Object.fromEntries([...this.#records].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))),
      };
      try {
        await mkdir(dirname(this.path), { recursive: true });
        await writeFileDurably(this.path, `${JSON.stringify(document, null, 2)}\n`);
      } catch (error) {
        // Losing the state costs at most a missed-run decision after a restart; the scheduler runs on.
        this.logger.error({ file: this.path, err: (error as Error).message }, 'cannot save scheduler state');
      }
    });
  }
}
