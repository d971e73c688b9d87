import type { Database } from 'sql.js';

export interface Migration {
  version: number;
  name: string;
  sql: string;
}

/**
 * The history's schema, one numbered step at a time. Append new steps; never edit or renumber a
 * released one, since databases in the field have already applied it.
 */
export const migrations: readonly Migration[] = [
  {
    version: 1,
    name: 'runs',
    sql: `
      CREATE TABLE runs (
        run_id TEXT PRIMARY KEY,
        experiment TEXT NOT NULL,
        file TEXT,
        source TEXT NOT NULL,
        verdict TEXT NOT NULL,
        reason TEXT NOT NULL DEFAULT '',
        started_at INTEGER NOT NULL,
        ended_at INTEGER,
        journal TEXT,
        -- pid and /proc start time of the process recording the run: they tell a run whose
        -- process died (abandoned) from one another live process is still running on this file.
        owner_pid INTEGER,
        owner_start TEXT
      );
      CREATE INDEX runs_by_start ON runs (started_at);
      CREATE INDEX runs_by_experiment ON runs (experiment, started_at);
      CREATE INDEX runs_by_verdict ON runs (verdict, started_at);
    `,
  },
];

export class NewerSchemaError extends Error {
  constructor(readonly found: number) {
    super(`schema version ${found} is newer than this simian knows`);
  }
}

/** Applies the migrations the database lacks, each in a transaction; returns the versions applied. */
export function migrate(db: Database, steps: readonly Migration[] = migrations, now = Date.now()): number[] {
  db.run(
    'CREATE TABLE IF NOT EXISTS schema_migrations (version INTEGER PRIMARY KEY, name TEXT NOT NULL, applied_at INTEGER NOT NULL)',
  );
  const current = Number(
    db.exec('SELECT COALESCE(MAX(version), 0) FROM schema_migrations')[0]?.values[0]?.[0],
  );
  const latest = steps.reduce((max, step) => Math.max(max, step.version), 0);
  if (current > latest) throw new NewerSchemaError(current);
  const applied: number[] = [];
  for (const step of [...steps].sort((a, b) => a.version - b.version)) {
    if (step.version <= current) continue;
    db.run('BEGIN');
    try {
      db.run(step.sql);
      db.run('INSERT INTO schema_migrations (version, name, applied_at) VALUES (?, ?, ?)', [
        step.version,
        step.name,
        now,
      ]);
      db.run('COMMIT');
    } catch (error) {
      db.run('ROLLBACK');
      throw error;
    }
    applied.push(step.version);
  }
  return applied;
}
