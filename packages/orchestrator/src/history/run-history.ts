import { z } from 'zod';
import { type Journal, journalSchema, type Verdict, verdictSchema } from '../runner/journal.js';

/** What started a run. */
export const runSourceSchema = z.enum(['api', 'embedded', 'schedule', 'gameday']);
export type RunSource = z.infer<typeof runSourceSchema>;

/** A run's verdict in the history: `running` until it ends. */
export const historyVerdictSchema = z.enum(['running', ...verdictSchema.options]);
export type HistoryVerdict = z.infer<typeof historyVerdictSchema>;

/** One run as `simian runs` and `GET /v1/runs` list it. Times are epoch milliseconds. */
export const runRecordSchema = z.strictObject({
  runId: z.string(),
  experiment: z.string(),
  file: z.string().optional(),
  source: runSourceSchema,
  verdict: historyVerdictSchema,
  /** Empty while running. */
  reason: z.string(),
  startedAt: z.number(),
  endedAt: z.number().optional(),
});
export type RunRecord = z.infer<typeof runRecordSchema>;

/** A run with its full journal (absent while running, and when the run ended without one). */
export const runDetailSchema = z.strictObject({
  ...runRecordSchema.shape,
  journal: journalSchema.optional(),
});
export type RunDetail = z.infer<typeof runDetailSchema>;

export const MAX_LIST_LIMIT = 10_000;

/** Which runs `list` returns: newest first, `since` inclusive and `until` exclusive on the start time. */
export const runFilterSchema = z.strictObject({
  experiment: z.string().min(1).optional(),
  verdict: historyVerdictSchema.optional(),
  /** Epoch ms. */
  since: z.number().optional(),
  /** Epoch ms. */
  until: z.number().optional(),
  /** @default 50 */
  limit: z.int().min(1).max(MAX_LIST_LIMIT).default(50),
});
export type RunFilter = z.input<typeof runFilterSchema>;

/** What is known when a run starts. */
export interface RunStart {
  runId: string;
  experiment: string;
  file?: string;
  source: RunSource;
  /** @default Date.now() */
  startedAt?: number;
}

/** How a run ended: its journal, or only a verdict and reason when it produced none. */
export type RunEnd = { journal: Journal } | { verdict: Verdict; reason: string; endedAt?: number };

/**
 * The durable history of runs (`$SIMIAN_STATE_DIR/history.sqlite` by default; see
 * `openRunHistory`). Call `start` when a run begins (it is listed as `running`) and `finish` when
 * it ends, with its journal. A run left `running` by a process that died is marked `aborted` the
 * next time any process opens the history. Every method may reject with
 * `SIMIAN_HISTORY_UNAVAILABLE`; callers that run experiments should log that and carry on.
 */
export interface RunHistory {
  /** Records the run as `running`. Starting a known run id again is a programmer error. */
  start(run: RunStart): Promise<void>;
  /** Records the verdict, reason, end time and (when given) the journal of a started run. */
  finish(runId: string, end: RunEnd): Promise<void>;
  /** Runs matching the filter, newest first, without their journals. */
  list(filter?: RunFilter): Promise<RunRecord[]>;
  /** One run with its journal, or undefined when the id is unknown. */
  get(runId: string): Promise<RunDetail | undefined>;
  /** Waits for pending writes, then releases the database. */
  close(): Promise<void>;
}

/** The reason given to runs found `running` whose process is gone. */
export const ABANDONED_RUN_REASON = 'the orchestrator stopped during the run (found on restart)';
