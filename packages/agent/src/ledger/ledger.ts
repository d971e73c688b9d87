import { mkdir, readFile } from 'node:fs/promises';
import { dirname } from 'node:path';
import { activeFaultSchema, SimianError } from '@simian/protocol';
import { z } from 'zod';
import { writeFileDurably } from '../durable-file.js';

const LEDGER_VERSION = 1;

const ledgerEntrySchema = z.strictObject({
  ...activeFaultSchema.shape,
  /** When the entry was written, before the fault was applied (ms since the epoch). */
  recordedAt: z.number(),
});

/** A fault recorded as applied and not yet reverted. */
export type LedgerEntry = z.infer<typeof ledgerEntrySchema>;

const ledgerFileSchema = z
  .strictObject({
    version: z.literal(LEDGER_VERSION),
    entries: z.array(ledgerEntrySchema),
  })
  .refine((file) => new Set(file.entries.map((entry) => entry.faultId)).size === file.entries.length, {
    error: 'a faultId appears twice',
    path: ['entries'],
  });

/**
 * The agent's durable record of every fault applied and not yet reverted. Each change is written
 * to a temporary file, fsynced, renamed over the ledger and the directory fsynced, so after a crash
 * the file holds either the old or the new list, never a torn one. Changes are applied one at a
 * time in call order, so two racing writes cannot lose either.
 *
 * One agent per ledger file: nothing stops two processes from sharing one, and they would
 * overwrite each other.
 */
export class Ledger {
  readonly path: string;
  #entries: Map<string, LedgerEntry>;
  #queue: Promise<unknown> = Promise.resolve();

  private constructor(path: string, entries: LedgerEntry[]) {
    this.path = path;
    this.#entries = new Map(entries.map((entry) => [entry.faultId, entry]));
  }

  /**
   * Reads the ledger at `path`, creating it (and its parent directories) when missing. A ledger
   * that exists but cannot be read or does not match the schema is an error, never an empty list:
   * the agent must not start blind to faults it may have left applied.
   */
  static async open(path: string): Promise<Ledger> {
    let text: string | undefined;
    try {
      text = await readFile(path, 'utf8');
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'ENOENT') {
        throw new SimianError(
          'SIMIAN_LEDGER_CORRUPT',
          `cannot read the fault ledger ${path}: ${(error as Error).message}`,
          {
            cause: error,
            hint: 'check the file and its permissions; the agent will not start without it',
          },
        );
      }
    }
    if (text === undefined) {
      const ledger = new Ledger(path, []);
      try {
        await mkdir(dirname(path), { recursive: true });
        // Writing now proves the directory is writable before any fault depends on it.
        await ledger.#write([]);
      } catch (error) {
        throw new SimianError(
          'SIMIAN_LEDGER_CORRUPT',
          `cannot create the fault ledger ${path}: ${(error as Error).message}`,
          {
            cause: error,
            hint: 'choose a ledger path in a writable directory',
          },
        );
      }
      return ledger;
    }
    return new Ledger(path, parseLedger(path, text));
  }

  /** Faults recorded and not yet removed, in the order they were recorded. */
  entries(): LedgerEntry[] {
    return [...this.#entries.values()];
  }

  /**
   * Durably records a fault; resolves once it is on disk. Recording a known faultId replaces it.
   * Rejects with a plain Error when the file cannot be written (the caller knows what failed).
   */
  async record(entry: LedgerEntry): Promise<void> {
    const parsed = ledgerEntrySchema.parse(entry);
    return this.#change((entries) => entries.set(parsed.faultId, parsed));
  }

  /** Durably forgets a fault; resolves once it is on disk. Removing an unknown faultId does nothing. */
  remove(faultId: string): Promise<void> {
    return this.#change((entries) => (entries.delete(faultId) ? entries : undefined));
  }

  /**
   * Queues one change: it runs on the state left by the change before it, and the in-memory state
   * moves on only once the new state is on disk. `update` returns undefined for "nothing to do".
   */
  #change(
    update: (entries: Map<string, LedgerEntry>) => Map<string, LedgerEntry> | undefined,
  ): Promise<void> {
    const run = async (): Promise<void> => {
      const next = update(new Map(this.#entries));
      if (next === undefined) return;
      await this.#write([...next.values()]);
      this.#entries = next;
    };
    const result = this.#queue.then(run, run);
    this.#queue = result.catch(() => undefined);
    return result;
  }

  async #write(entries: LedgerEntry[]): Promise<void> {
    const body = `${JSON.stringify({ version: LEDGER_VERSION, entries }, null, 2)}\n`;
    try {
      await writeFileDurably(this.path, body);
    } catch (error) {
      throw new Error(`cannot write the fault ledger ${this.path}: ${(error as Error).message}`, {
        cause: error,
      });
    }
  }
}

function parseLedger(path: string, text: string): LedgerEntry[] {
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (error) {
    throw new SimianError(
      'SIMIAN_LEDGER_CORRUPT',
      `the fault ledger ${path} is not JSON: ${(error as Error).message}`,
      {
        cause: error,
        hint: 'revert its faults by hand if needed, then move the file away to start with an empty ledger',
      },
    );
  }
  const parsed = ledgerFileSchema.safeParse(json);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    const where = issue && issue.path.length > 0 ? `${issue.path.join('.')}: ` : '';
    throw new SimianError(
      'SIMIAN_LEDGER_CORRUPT',
      `the fault ledger ${path} does not match its schema: ${where}${issue?.message ?? 'invalid'}`,
      { hint: 'revert its faults by hand if needed, then move the file away to start with an empty ledger' },
    );
  }
  return parsed.data.entries;
}
