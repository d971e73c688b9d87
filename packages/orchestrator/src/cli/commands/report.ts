import { mkdir, writeFile } from 'node:fs/promises';
import { dirname, resolve } from 'node:path';
import { SimianError } from '@simian/protocol';
import { z } from 'zod';
import { type RunDetail, runDetailSchema } from '../../history/run-history.js';
import { openRunHistory } from '../../history/sqlite-run-history.js';
import { renderRunDetailHtml } from '../../reports/html-report.js';
import { renderRunText } from '../../reports/text-report.js';
import { exitCodes } from '../exit-codes.js';
import { callApi } from '../run-client.js';
import { requireToken } from '../token.js';
import type { CommandResult } from './command-result.js';
import { parseAnswer } from './runs.js';

export const reportFlagsSchema = z.strictObject({
  /** Read the run from this orchestrator's history; the local database when absent. */
  orchestrator: z.instanceof(URL).optional(),
  /** Write the self-contained HTML report here. */
  html: z.string().min(1).optional(),
  json: z.boolean().default(false),
  tokenFile: z.string().optional(),
});
export type ReportFlags = z.infer<typeof reportFlagsSchema>;

/** `simian report RUN-ID`: one run as text (or JSON), and as an HTML file with --html. */
export async function reportCommand(runId: string, flags: ReportFlags): Promise<CommandResult> {
  const run = await fetchRun(runId, flags);
  const lines = [renderRunText(run)];
  if (flags.html !== undefined) {
    const path = resolve(flags.html);
    try {
      await mkdir(dirname(path), { recursive: true });
      await writeFile(path, renderRunDetailHtml(run));
    } catch (error) {
      throw new SimianError(
        'SIMIAN_FILE_NOT_FOUND',
        `cannot write the HTML report ${flags.html}: ${(error as NodeJS.ErrnoException).code ?? (error as Error).message}`,
        { hint: 'choose a path in a writable directory' },
      );
    }
    lines.push(`  html report: ${flags.html}`);
  }
  return { exitCode: exitCodes.passed, human: lines.join('\n'), json: run };
}

async function fetchRun(runId: string, flags: ReportFlags): Promise<RunDetail> {
  if (flags.orchestrator) {
    const token = await requireToken(flags.tokenFile, 'simian report --orchestrator');
    const response = await callApi(flags.orchestrator, token, `/v1/runs/${encodeURIComponent(runId)}`);
    return parseAnswer(await response.json(), z.strictObject({ run: runDetailSchema })).run;
  }
  const history = await openRunHistory();
  let run: RunDetail | undefined;
  try {
    run = await history.get(runId);
  } finally {
    await history.close();
  }
  if (run === undefined) {
    throw new SimianError('SIMIAN_RUN_NOT_FOUND', `no run ${runId} in the run history ${history.path}`, {
      hint: '`simian runs` lists the runs recorded here; add --orchestrator URL for runs made by `simian serve` elsewhere',
    });
  }
  return run;
}
