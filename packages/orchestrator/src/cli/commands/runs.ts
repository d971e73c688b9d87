import { SimianError } from '@simian/protocol';
import { z } from 'zod';
import {
  historyVerdictSchema,
  MAX_LIST_LIMIT,
  type RunFilter,
  type RunRecord,
  runRecordSchema,
} from '../../history/run-history.js';
import { openRunHistory } from '../../history/sqlite-run-history.js';
import { parseTimeBound, TIME_BOUND_HELP } from '../../history/time-bound.js';
import { renderRunsTable } from '../../reports/text-report.js';
import { exitCodes } from '../exit-codes.js';
import { callApi } from '../run-client.js';
import { requireToken } from '../token.js';
import type { CommandResult } from './command-result.js';

export const DEFAULT_RUNS_LIMIT = 50;

export const runsFlagsSchema = z.strictObject({
  /** Ask this orchestrator's history; the local database when absent. */
  orchestrator: z.instanceof(URL).optional(),
  experiment: z.string().optional(),
  verdict: historyVerdictSchema.optional(),
  /** Epoch ms, inclusive. */
  since: z.number().optional(),
  /** Epoch ms, exclusive. */
  until: z.number().optional(),
  limit: z.number().default(DEFAULT_RUNS_LIMIT),
  json: z.boolean().default(false),
  tokenFile: z.string().optional(),
});
export type RunsFlags = z.infer<typeof runsFlagsSchema>;

/** `--since` / `--until`: see {@link parseTimeBound}. */
export function timeBoundFlag(flag: string) {
  return (value: string): number => {
    const ms = parseTimeBound(value);
    if (ms === undefined)
      throw new SimianError(
        'SIMIAN_USAGE',
        `${flag}: expected ${TIME_BOUND_HELP}, got ${JSON.stringify(value)}`,
      );
    return ms;
  };
}

export function verdictFlag(value: string): RunRecord['verdict'] {
  const parsed = historyVerdictSchema.safeParse(value);
  if (!parsed.success)
    throw new SimianError(
      'SIMIAN_USAGE',
      `--verdict: expected one of ${historyVerdictSchema.options.join(' | ')}, got ${JSON.stringify(value)}`,
    );
  return parsed.data;
}

export const LIMIT_RANGE = [1, MAX_LIST_LIMIT] as const;

/** `simian runs`: the run history, newest first, from an orchestrator or the local database. */
export async function runsCommand(flags: RunsFlags): Promise<CommandResult> {
  const filter: RunFilter = {
    limit: flags.limit,
    ...(flags.experiment === undefined ? {} : { experiment: flags.experiment }),
    ...(flags.verdict === undefined ? {} : { verdict: flags.verdict }),
    ...(flags.since === undefined ? {} : { since: flags.since }),
    ...(flags.until === undefined ? {} : { until: flags.until }),
  };
  let runs: RunRecord[];
  let where: string;
  if (flags.orchestrator) {
    const token = await requireToken(flags.tokenFile, 'simian runs --orchestrator');
    const query = new URLSearchParams(
      Object.entries(filter).map(([key, value]) => [key, String(value)] as [string, string]),
    );
    const response = await callApi(flags.orchestrator, token, `/v1/runs?${query}`);
    runs = parseAnswer(await response.json(), z.strictObject({ runs: z.array(runRecordSchema) })).runs;
    where = flags.orchestrator.origin;
  } else {
    const history = await openRunHistory();
    try {
      runs = await history.list(filter);
    } finally {
      await history.close();
    }
    where = history.path;
  }
  return {
    exitCode: exitCodes.passed,
    human: runs.length === 0 ? `no runs match in ${where}` : renderRunsTable(runs),
    json: { runs },
  };
}

/** An orchestrator's answer, checked against the schema it promises. */
export function parseAnswer<T>(json: unknown, schema: z.ZodType<T>): T {
  const parsed = schema.safeParse(json);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    throw new SimianError(
      'SIMIAN_BAD_MESSAGE',
      `orchestrator sent an answer that does not match the schema: ${issue?.path.join('.')}: ${issue?.message}`,
      { hint: 'client and orchestrator versions must match' },
    );
  }
  return parsed.data;
}
