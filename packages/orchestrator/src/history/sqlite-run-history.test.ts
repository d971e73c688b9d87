import { spawn } from 'node:child_process';
import { mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import initSqlJs from 'sql.js';
import { afterEach, describe, expect, it } from 'vitest';
import { makeJournal } from '../../../../test/helpers/journal-fixture.js';
import { errorOf } from '../../../../test/helpers/wait.js';
import { withFileLock } from './file-lock.js';
import { migrate, migrations } from './migrations.js';
import { currentOwner } from './process-owner.js';
import { ABANDONED_RUN_REASON } from './run-history.js';
import { openRunHistory, type SqliteRunHistory } from './sqlite-run-history.js';
import { parseTimeBound } from './time-bound.js';

const dirs: string[] = [];
const open: SqliteRunHistory[] = [];
afterEach(async () => {
  for (const history of open.splice(0)) await history.close();
  for (const dir of dirs.splice(0)) await rm(dir, { recursive: true, force: true });
});

async function tempPath(): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'simian-history-'));
  dirs.push(dir);
  return join(dir, 'state', 'history.sqlite');
}

async function openAt(path: string, owner?: { pid: number; startTime: string }): Promise<SqliteRunHistory> {
  const history = await openRunHistory({ path, ...(owner ? { owner } : {}) });
  open.push(history);
  return history;
}

async function rawQuery(path: string, sql: string): Promise<unknown[][]> {
  const SQL = await initSqlJs();
  const db = new SQL.Database(await readFile(path));
  try {
    return db.exec(sql)[0]?.values ?? [];
  } finally {
    db.close();
  }
}

/** The pid of a process that has exited (its start time cannot match a live one). */
async function deadPid(): Promise<number> {
  const child = spawn(process.execPath, ['-e', ''], { stdio: 'ignore' });
  await new Promise((resolve) => child.on('exit', resolve));
  return child.pid as number;
}

describe('run history on SQLite', () => {
  it('creates the file and applies every migration on open, once', async () => {
    const path = await tempPath();
    const first = await openAt(path);
    await first.close();
    const applied = await rawQuery(path, 'SELECT version, name FROM schema_migrations ORDER BY version');
    expect(applied).toEqual(migrations.map((step) => [step.version, step.name]));
    const second = await openAt(path);
    await second.start({ runId: 'r1', experiment: 'e', source: 'api' });
    expect(await rawQuery(path, 'SELECT COUNT(*) FROM schema_migrations')).toEqual([[migrations.length]]);
    // Nothing but the database is left in the directory: no temp file, no lock.
    expect(await readdir(join(path, '..'))).toEqual(['history.sqlite']);
  });

  it('migrates an older database step by step, and a failing step changes nothing', async () => {
    const SQL = await initSqlJs();
    const db = new SQL.Database();
    const v1 = { version: 1, name: 'one', sql: 'CREATE TABLE a (x INTEGER)' };
    expect(migrate(db, [v1])).toEqual([1]);
    const v2 = { version: 2, name: 'two', sql: 'ALTER TABLE a ADD COLUMN y TEXT' };
    const broken = {
      version: 3,
      name: 'broken',
      sql: 'CREATE TABLE b (z INTEGER); SELECT nope FROM nowhere',
    };
    expect(() => migrate(db, [v1, v2, broken])).toThrow(/nowhere/);
    expect(db.exec('SELECT MAX(version) FROM schema_migrations')[0]?.values).toEqual([[2]]);
    expect(db.exec("SELECT name FROM sqlite_master WHERE name = 'b'")).toEqual([]);
    expect(migrate(db, [v1, v2])).toEqual([]);
    db.close();
  });

  it('refuses a database written by a newer simian and leaves it alone', async () => {
    const path = await tempPath();
    await (await openAt(path)).close();
    const SQL = await initSqlJs();
    const db = new SQL.Database(await readFile(path));
    db.run("INSERT INTO schema_migrations VALUES (999, 'from the future', 0)");
    await writeFile(path, db.export());
    db.close();
    const before = await readFile(path);
    const error = await errorOf(openRunHistory({ path }));
    expect(error.code).toBe('SIMIAN_HISTORY_UNAVAILABLE');
    expect(error.message).toBe(
      `the run history ${path} was written by a newer simian (schema version 999; this one knows up to ${migrations.length})`,
    );
    expect(await readFile(path)).toEqual(before);
  });

  it('says a file that is not SQLite is unreadable, naming it', async () => {
    const path = await tempPath();
    await (await openAt(path)).close();
    await writeFile(path, 'this is not a database, just text that is long enough to look like a page');
    const error = await errorOf(openRunHistory({ path }));
    expect(error.code).toBe('SIMIAN_HISTORY_UNAVAILABLE');
    expect(error.message).toMatch(`cannot open in the run history ${path}: file is not a database`);
  });

  it('keeps runs and their journals across close and reopen', async () => {
    const path = await tempPath();
    const history = await openAt(path);
    const journal = makeJournal({ runId: 'run-a' });
    await history.start({
      runId: 'run-a',
      experiment: 'latency-web',
      file: 'experiments/latency.yaml',
      source: 'embedded',
      startedAt: journal.startedAt,
    });
    expect(await history.get('run-a')).toEqual({
      runId: 'run-a',
      experiment: 'latency-web',
      file: 'experiments/latency.yaml',
      source: 'embedded',
      verdict: 'running',
      reason: '',
      startedAt: journal.startedAt,
    });
    await history.finish('run-a', { journal });
    await history.close();

    const reopened = await openAt(path);
    expect(await reopened.get('run-a')).toEqual({
      runId: 'run-a',
      experiment: 'latency-web',
      file: 'experiments/latency.yaml',
      source: 'embedded',
      verdict: 'passed',
      reason: journal.reason,
      startedAt: journal.startedAt,
      endedAt: journal.endedAt,
      journal,
    });
    expect(await reopened.get('no-such-run')).toBeUndefined();
  });

  it('records a run that ended without a journal with its verdict and reason', async () => {
    const history = await openAt(await tempPath());
    await history.start({ runId: 'r', experiment: 'e', source: 'api', startedAt: 1_000 });
    await history.finish('r', { verdict: 'error', reason: 'agent lost', endedAt: 2_000 });
    const run = await history.get('r');
    expect(run).toMatchObject({ verdict: 'error', reason: 'agent lost', endedAt: 2_000 });
    expect(run?.journal).toBeUndefined();
  });

  it('marks runs left running by a dead process as aborted on open, and no others', async () => {
    const path = await tempPath();
    const dead = { pid: await deadPid(), startTime: '1' };
    const crashed = await openAt(path, dead);
    await crashed.start({ runId: 'crashed', experiment: 'e', source: 'api', startedAt: 1_000 });
    await crashed.close();
    // This process is alive: its run is still going and must stay `running`.
    const live = await openAt(path);
    await live.start({ runId: 'live', experiment: 'e', source: 'embedded', startedAt: 2_000 });
    expect((await live.get('crashed'))?.verdict).toBe('aborted');

    const another = await openAt(path);
    const runs = await another.list();
    expect(runs.map((run) => [run.runId, run.verdict, run.reason])).toEqual([
      ['live', 'running', ''],
      ['crashed', 'aborted', ABANDONED_RUN_REASON],
    ]);
    expect(ABANDONED_RUN_REASON).toBe('the orchestrator stopped during the run (found on restart)');
  });

  it('filters by experiment, verdict and start time, newest first, up to the limit', async () => {
    const history = await openAt(await tempPath());
    const day = Date.UTC(2026, 10, 22);
    const runs = [
      { runId: 'a', experiment: 'kill', verdict: 'passed', startedAt: day + 1_000 },
      { runId: 'b', experiment: 'kill', verdict: 'failed', startedAt: day + 2_000 },
      { runId: 'c', experiment: 'pause', verdict: 'passed', startedAt: day + 3_000 },
      { runId: 'd', experiment: 'kill', verdict: 'passed', startedAt: day + 86_400_000 },
    ] as const;
    for (const run of runs) {
      await history.start({
        runId: run.runId,
        experiment: run.experiment,
        source: 'api',
        startedAt: run.startedAt,
      });
      await history.finish(run.runId, { verdict: run.verdict, reason: 'r', endedAt: run.startedAt + 10 });
    }
    await history.start({ runId: 'e', experiment: 'kill', source: 'schedule', startedAt: day + 90_000_000 });
    const ids = async (filter: Parameters<typeof history.list>[0]) =>
      (await history.list(filter)).map((run) => run.runId);
    expect(await ids({})).toEqual(['e', 'd', 'c', 'b', 'a']);
    expect(await ids({ experiment: 'kill' })).toEqual(['e', 'd', 'b', 'a']);
    expect(await ids({ verdict: 'passed' })).toEqual(['d', 'c', 'a']);
    expect(await ids({ verdict: 'running' })).toEqual(['e']);
    expect(await ids({ experiment: 'kill', verdict: 'passed' })).toEqual(['d', 'a']);
    expect(await ids({ since: day + 2_000 })).toEqual(['e', 'd', 'c', 'b']);
    expect(await ids({ until: day + 86_400_000 })).toEqual(['c', 'b', 'a']);
    expect(await ids({ since: day + 1_500, until: day + 3_000 })).toEqual(['b']);
    expect(await ids({ limit: 2 })).toEqual(['e', 'd']);
    expect(await ids({ experiment: 'nothing' })).toEqual([]);
  });

  it('two writers on one file (as serve and an embedded run are) lose none of each other’s runs', async () => {
    const path = await tempPath();
    const one = await openAt(path);
    const two = await openAt(path);
    await Promise.all(
      Array.from({ length: 10 }, (_, i) =>
        (i % 2 === 0 ? one : two).start({ runId: `run-${i}`, experiment: 'e', source: 'api', startedAt: i }),
      ),
    );
    await one.finish('run-3', { verdict: 'passed', reason: 'ok' });
    const seen = await two.list({ limit: 100 });
    expect(seen.map((run) => run.runId).sort()).toEqual(
      Array.from({ length: 10 }, (_, i) => `run-${i}`).sort(),
    );
    expect(seen.find((run) => run.runId === 'run-3')?.verdict).toBe('passed');
  });

  it('breaks a lock left by a dead process, and waits for (then gives up on) a live one', async () => {
    const path = await tempPath();
    const history = await openAt(path);
    await writeFile(`${path}.lock`, `${await deadPid()} 1\n`);
    await history.start({ runId: 'after-stale-lock', experiment: 'e', source: 'api' });
    expect((await history.get('after-stale-lock'))?.verdict).toBe('running');

    const me = await currentOwner();
    await writeFile(`${path}.lock`, `${me.pid} ${me.startTime}\n`);
    const error = await errorOf(withFileLock(`${path}.lock`, async () => undefined, { timeoutMs: 300 }));
    expect(error).toEqual({
      code: 'SIMIAN_HISTORY_UNAVAILABLE',
      message: `the run history is locked by process ${me.pid} (${path}.lock)`,
    });
    await rm(`${path}.lock`);
  });
});

describe('time bounds for --since and --until', () => {
  const now = Date.UTC(2026, 10, 22, 12, 0, 0);
  it.each([
    ['2026-11-22', Date.UTC(2026, 10, 22)],
    ['2026-11-22T10:30', Date.UTC(2026, 10, 22, 10, 30)],
    ['2026-11-22T10:30:15Z', Date.UTC(2026, 10, 22, 10, 30, 15)],
    ['2026-11-22T10:30:00+01:00', Date.UTC(2026, 10, 22, 9, 30)],
    ['90m', now - 90 * 60_000],
    ['24h', now - 86_400_000],
    ['7d', now - 7 * 86_400_000],
    ['1795341600000', 1_795_341_600_000],
  ])('%s', (text, expected) => {
    expect(parseTimeBound(text, now)).toBe(expected);
  });

  it.each(['yesterday', '2026-02-31', '2026-11-22 10:00', '', '12'])('rejects %j', (text) => {
    expect(parseTimeBound(text, now)).toBeUndefined();
  });
});
