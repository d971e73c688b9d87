import type { BigIntStats } from 'node:fs';
import { mkdir, open, stat } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { writeFileDurably } from '@simian/agent';
import { isSimianError, SimianError } from '@simian/protocol';
import initSqlJs from 'sql.js';
import { stateDir } from '../cli/state-dir.js';
import { type Journal, journalSchema } from '../runner/journal.js';
import { withFileLock } from './file-lock.js';
import { migrate, migrations, NewerSchemaError } from './migrations.js';
import { currentOwner, isOwnerAlive, type ProcessOwner } from './process-owner.js';
import {
  ABANDONED_RUN_REASON,
  type RunDetail,
  type RunEnd,
  type RunFilter,
  type RunHistory,
  type RunRecord,
  type RunStart,
  runFilterSchema,
  runRecordSchema,
} from './run-history.js';

type Database = initSqlJs.Database;
type SqlValue = initSqlJs.SqlValue;

/** `$SIMIAN_STATE_DIR/history.sqlite`. */
export function defaultHistoryPath(): string {
  return join(stateDir(), 'history.sqlite');
}

export interface OpenRunHistoryOptions {
  /** @default defaultHistoryPath() */
  path?: string;
  /** The process recorded as running the runs this instance starts. @default this process */
  owner?: ProcessOwner;
}

let sqlJs: Promise<initSqlJs.SqlJsStatic> | undefined;

/**
 * Opens (creating it when missing) the run history, applies pending migrations and marks runs
 * whose process died while they were `running` as `aborted`.
 */
export async function openRunHistory(options: OpenRunHistoryOptions = {}): Promise<SqliteRunHistory> {
  const path = options.path ?? defaultHistoryPath();
  const owner = options.owner ?? (await currentOwner());
  const history = new SqliteRunHistory(path, owner);
  await history.open();
  return history;
}

/**
 * The run history in one SQLite file, run by sql.js (SQLite compiled to WebAssembly: nothing to
 * build natively). sql.js keeps the database in memory, so every change is written out whole: to
 * a temporary file, fsynced, renamed over the database and the directory fsynced; after a crash
 * the file holds either the old or the new state. Other processes write the same file, so each
 * change takes a lock file, reloads the file if another process replaced it, and only then
 * applies the change. Calls of one instance run one at a time, in order.
 */
export class SqliteRunHistory implements RunHistory {
  readonly path: string;
  private readonly lockPath: string;
  private db: Database | undefined;
  /** The file version `db` was loaded from or written to. */
  private version: string | undefined;
  private queue: Promise<unknown> = Promise.resolve();
  private closed = false;

  constructor(
    path: string,
    private readonly owner: ProcessOwner,
  ) {
    this.path = path;
    this.lockPath = `${path}.lock`;
  }

  /** @internal Called once by {@link openRunHistory}. */
  async open(): Promise<void> {
    await this.guard('open', async () => {
      await mkdir(dirname(this.path), { recursive: true });
      await this.write(async (db) => (await this.markAbandoned(db)) > 0);
    });
  }

  start(run: RunStart): Promise<void> {
    return this.serialize('record the start of', run.runId, () =>
      this.write(async (db) => {
        if (rows(db, 'SELECT 1 FROM runs WHERE run_id = ?', [run.runId]).length > 0)
          throw new Error(`run ${run.runId} is already in the history`);
        db.run(
          `INSERT INTO runs (run_id, experiment, file, source, verdict, reason, started_at, owner_pid, owner_start)
           VALUES (?, ?, ?, ?, 'running', '', ?, ?, ?)`,
          [
            run.runId,
            run.experiment,
            run.file ?? null,
            run.source,
            run.startedAt ?? Date.now(),
            this.owner.pid,
            this.owner.startTime,
          ],
        );
        return true;
      }),
    );
  }

  finish(runId: string, end: RunEnd): Promise<void> {
    return this.serialize('record the end of', runId, () =>
      this.write(async (db) => {
        if (rows(db, 'SELECT 1 FROM runs WHERE run_id = ?', [runId]).length === 0)
          throw new Error(`run ${runId} was never started in the history`);
        const journal: Journal | undefined = 'journal' in end ? end.journal : undefined;
        db.run('UPDATE runs SET verdict = ?, reason = ?, ended_at = ?, journal = ? WHERE run_id = ?', [
          journal?.verdict ?? ('verdict' in end ? end.verdict : 'error'),
          journal?.reason ?? ('reason' in end ? end.reason : ''),
          journal?.endedAt ?? ('endedAt' in end && end.endedAt !== undefined ? end.endedAt : Date.now()),
          journal === undefined ? null : JSON.stringify(journal),
          runId,
        ]);
        return true;
      }),
    );
  }

  list(filter: RunFilter = {}): Promise<RunRecord[]> {
    const parsed = runFilterSchema.parse(filter);
    return this.serialize('list', 'runs', async () => {
      const db = await this.read();
      const where: string[] = [];
      const params: SqlValue[] = [];
      if (parsed.experiment !== undefined) {
        where.push('experiment = ?');
        params.push(parsed.experiment);
      }
      if (parsed.verdict !== undefined) {
        where.push('verdict = ?');
        params.push(parsed.verdict);
      }
      if (parsed.since !== undefined) {
        where.push('started_at >= ?');
        params.push(parsed.since);
      }
      if (parsed.until !== undefined) {
        where.push('started_at < ?');
        params.push(parsed.until);
      }
      const sql = `SELECT ${RECORD_COLUMNS} FROM runs ${where.length > 0 ? `WHERE ${where.join(' AND ')}` : ''}
                   ORDER BY started_at DESC, run_id DESC LIMIT ?`;
      return rows(db, sql, [...params, parsed.limit]).map(toRecord);
    });
  }

  get(runId: string): Promise<RunDetail | undefined> {
    return this.serialize('read', runId, async () => {
      const db = await this.read();
      const row = rows(db, `SELECT ${RECORD_COLUMNS}, journal FROM runs WHERE run_id = ?`, [runId])[0];
      if (row === undefined) return undefined;
      const record = toRecord(row);
      if (typeof row.journal !== 'string') return record;
      const journal = journalSchema.safeParse(JSON.parse(row.journal));
      if (!journal.success)
        throw new Error(`its journal does not match the schema: ${journal.error.issues[0]?.message}`);
      return { ...record, journal: journal.data };
    });
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    await this.queue.catch(() => undefined);
    this.db?.close();
    this.db = undefined;
  }

  /** Queues one call behind the others of this instance; failures become SIMIAN_HISTORY_UNAVAILABLE. */
  private serialize<T>(what: string, subject: string, work: () => Promise<T>): Promise<T> {
    if (this.closed) return Promise.reject(new Error(`the run history ${this.path} is closed`));
    const run = () => this.guard(`${what} ${subject}`, work);
    const result = this.queue.then(run, run);
    this.queue = result.catch(() => undefined);
    return result;
  }

  private async guard<T>(what: string, work: () => Promise<T>): Promise<T> {
    try {
      return await work();
    } catch (error) {
      if (isSimianError(error)) throw error;
      if (error instanceof NewerSchemaError) {
        throw new SimianError(
          'SIMIAN_HISTORY_UNAVAILABLE',
          `the run history ${this.path} was written by a newer simian (schema version ${error.found}; this one knows up to ${latestVersion()})`,
          { hint: 'upgrade simian, or point SIMIAN_STATE_DIR elsewhere' },
        );
      }
      const message = (error as Error).message;
      const corrupt = /not a database|malformed|disk image/i.test(message);
      throw new SimianError(
        'SIMIAN_HISTORY_UNAVAILABLE',
        `cannot ${what} in the run history ${this.path}: ${message}`,
        {
          cause: error,
          hint: corrupt
            ? 'the file is not a readable SQLite database; move it away to start a new history'
            : 'check the directory exists, is writable and has free space',
        },
      );
    }
  }

  /** The latest database for reading: reloaded when another process replaced the file. */
  private async read(): Promise<Database> {
    const current = await fileVersion(this.path);
    if (this.db === undefined || (current !== undefined && current !== this.version)) await this.load();
    return this.db as Database;
  }

  /** Applies `change` to the latest database under the lock; writes the file when it returns true. */
  private write(change: (db: Database) => Promise<boolean>): Promise<void> {
    return withFileLock(this.lockPath, async () => {
      const current = await fileVersion(this.path);
      let dirty = current === undefined;
      if (this.db === undefined || current !== this.version) dirty = (await this.load()) || dirty;
      const db = this.db as Database;
      if ((await change(db)) || dirty) await this.persist(db);
    });
  }

  /** Loads the file (or a new database when there is none) and migrates it; true if it migrated. */
  private async load(): Promise<boolean> {
    sqlJs ??= initSqlJs();
    const SQL = await sqlJs;
    let bytes: Buffer | undefined;
    let version: string | undefined;
    try {
      // Version and bytes from one handle: a rename by another process cannot come between them.
      const file = await open(this.path, 'r');
      try {
        version = versionOf(await file.stat({ bigint: true }));
        bytes = await file.readFile();
      } finally {
        await file.close();
      }
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'ENOENT') throw error;
    }
    const db = bytes === undefined ? new SQL.Database() : new SQL.Database(bytes);
    let applied: number[];
    try {
      applied = migrate(db);
    } catch (error) {
      db.close();
      throw error;
    }
    this.db?.close();
    this.db = db;
    this.version = version;
    return applied.length > 0;
  }

  private async persist(db: Database): Promise<void> {
    await writeFileDurably(this.path, db.export());
    this.version = await fileVersion(this.path);
  }

  private async markAbandoned(db: Database): Promise<number> {
    let marked = 0;
    const running = rows(db, "SELECT run_id, owner_pid, owner_start FROM runs WHERE verdict = 'running'");
    for (const row of running) {
      const owner = { pid: Number(row.owner_pid), startTime: String(row.owner_start ?? '') };
      if (row.owner_pid !== null && (await isOwnerAlive(owner))) continue;
      db.run("UPDATE runs SET verdict = 'aborted', reason = ? WHERE run_id = ?", [
        ABANDONED_RUN_REASON,
        row.run_id as string,
      ]);
      marked += 1;
    }
    return marked;
  }
}

const RECORD_COLUMNS = 'run_id, experiment, file, source, verdict, reason, started_at, ended_at';

function rows(db: Database, sql: string, params: SqlValue[] = []): Array<Record<string, SqlValue>> {
  const statement = db.prepare(sql, params);
  try {
    const result: Array<Record<string, SqlValue>> = [];
    while (statement.step()) result.push(statement.getAsObject());
    return result;
  } finally {
    statement.free();
  }
}

function toRecord(row: Record<string, SqlValue>): RunRecord {
  return runRecordSchema.parse({
    runId: row.run_id,
    experiment: row.experiment,
    ...(row.file === null ? {} : { file: row.file }),
    source: row.source,
    verdict: row.verdict,
    reason: row.reason,
    startedAt: row.started_at,
    ...(row.ended_at === null ? {} : { endedAt: row.ended_at }),
  });
}

/** Changes whenever the file is replaced (each write renames a new file over it). */
async function fileVersion(path: string): Promise<string | undefined> {
  let info: BigIntStats;
  try {
    info = await stat(path, { bigint: true });
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw error;
  }
  return versionOf(info);
}

function versionOf(info: BigIntStats): string {
  return `${info.dev}:${info.ino}:${info.size}:${info.mtimeNs}:${info.ctimeNs}`;
}

function latestVersion(): number {
  return migrations.reduce((max, step) => Math.max(max, step.version), 0);
}
