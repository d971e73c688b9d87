import { isSimianError } from '@simian/protocol';
import type { Logger } from 'pino';
import { z } from 'zod';
import {
  historyVerdictSchema,
  MAX_LIST_LIMIT,
  type RunEnd,
  type RunHistory,
  type RunStart,
} from '../history/run-history.js';
import { parseTimeBound, TIME_BOUND_HELP } from '../history/time-bound.js';

const timeBound = z.string().transform((text, context) => {
  const ms = parseTimeBound(text);
  if (ms === undefined) {
    context.addIssue({ code: 'custom', message: `expected ${TIME_BOUND_HELP}, got ${JSON.stringify(text)}` });
    return z.NEVER;
  }
  return ms;
});

/** `GET /v1/runs` query parameters, all optional. */
export const runsQuerySchema = z.strictObject({
  experiment: z.string().min(1).optional(),
  verdict: historyVerdictSchema.optional(),
  since: timeBound.optional(),
  until: timeBound.optional(),
  limit: z
    .string()
    .regex(/^\d+$/, 'expected a whole number')
    .transform(Number)
    .pipe(z.int().min(1).max(MAX_LIST_LIMIT))
    .optional(),
});

export interface HistoryAnswer {
  status: number;
  body: unknown;
}

/** Answers `GET /v1/runs` and `GET /v1/runs/<run-id>`; undefined for any other route. */
export async function routeHistory(
  history: RunHistory | undefined,
  method: string | undefined,
  url: URL,
): Promise<HistoryAnswer | undefined> {
  if (method !== 'GET') return undefined;
  const one = /^\/v1\/runs\/([^/]+)$/.exec(url.pathname);
  if (url.pathname !== '/v1/runs' && !one) return undefined;
  if (history === undefined) {
    return failure(503, 'SIMIAN_HISTORY_UNAVAILABLE', 'this orchestrator keeps no run history');
  }
  if (one) {
    const runId = decodeURIComponent(one[1] as string);
    const run = await history.get(runId);
    return run === undefined
      ? failure(404, 'SIMIAN_RUN_NOT_FOUND', `no run ${runId} in the history`)
      : { status: 200, body: { run } };
  }
  const query = runsQuerySchema.safeParse(Object.fromEntries(url.searchParams));
  if (!query.success) {
    const issue = query.error.issues[0];
    const name = issue?.path.join('.') || (issue?.code === 'unrecognized_keys' ? issue.keys.join(', ') : '');
    return failure(400, 'SIMIAN_USAGE', `bad query parameter ${name}: ${issue?.message}`);
  }
  return { status: 200, body: { runs: await history.list(query.data) } };
}

function failure(status: number, code: string, message: string): HistoryAnswer {
  return { status, body: { error: { code, message } } };
}

/**
 * Records a run's start and end without ever failing the run: a history that cannot be written
 * costs the record, not the experiment (the journal still reaches the client).
 */
export class RunRecorder {
  constructor(
    private readonly history: RunHistory | undefined,
    private readonly logger: Logger,
  ) {}

  /** True when the start was recorded (and so the end should be). */
  async start(run: RunStart): Promise<boolean> {
    if (this.history === undefined) return false;
    try {
      await this.history.start(run);
      return true;
    } catch (error) {
      this.warn(run.runId, error);
      return false;
    }
  }

  async finish(runId: string, end: RunEnd): Promise<void> {
    try {
      await this.history?.finish(runId, end);
    } catch (error) {
      this.warn(runId, error);
    }
  }

  private warn(runId: string, error: unknown): void {
    this.logger.error(
      { runId, err: (error as Error).message, code: isSimianError(error) ? error.code : undefined },
      'run history not updated',
    );
  }
}
