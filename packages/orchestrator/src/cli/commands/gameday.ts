import { join } from 'node:path';
import type { Logger } from 'pino';
import { z } from 'zod';
import { loadGameDayFile } from '../../gameday/load.js';
import type { Suite } from '../../gameday/run-suite.js';
import type { SuiteOutput } from '../../gameday/suite-progress.js';
import { newRunId } from '../../runner/journal.js';
import { exitCodes } from '../exit-codes.js';
import { stateDir } from '../state-dir.js';
import { runSuites, type Terminal, writeGameDayReport } from '../suite-session.js';
import type { CommandResult } from './command-result.js';

export const gameDayFlagsSchema = z.strictObject({
  orchestrator: z.instanceof(URL).optional(),
  /** Approve every approval step in advance. */
  yes: z.boolean().default(false),
  /** Where the reports go; `$SIMIAN_STATE_DIR/gamedays/<id>/` when absent. */
  report: z.string().optional(),
  json: z.boolean().default(false),
  lease: z.number().optional(),
  tokenFile: z.string().optional(),
});
export type GameDayFlags = z.infer<typeof gameDayFlagsSchema>;

/**
 * `simian gameday FILE`: validate the game day and every experiment it names, run the steps in
 * order with live progress, and write the report. The exit code is the game day's outcome.
 */
export async function gameDayCommand(
  file: string,
  flags: GameDayFlags,
  out: SuiteOutput,
  terminal: Terminal,
  logger: Logger,
  signal: AbortSignal,
): Promise<CommandResult> {
  // Everything is validated before the first step: a typo in step 5 must not surface mid-day.
  const loaded = await loadGameDayFile(file);
  const { gameDay } = loaded;
  const id = newRunId();
  const suite: Suite = {
    id,
    name: gameDay.metadata.name,
    file,
    ...(gameDay.metadata.description === undefined ? {} : { description: gameDay.metadata.description }),
    onFailure: gameDay.spec.onFailure,
    ...(gameDay.spec.minScore === undefined ? {} : { minScore: gameDay.spec.minScore }),
    steps: loaded.steps,
  };
  const reportDir = flags.report ?? join(stateDir(), 'gamedays', id);
  const { reports, journals } = await runSuites({
    suites: [suite],
    flags: { ...flags, command: 'gameday' },
    reportDir,
    out,
    terminal,
    logger,
    signal,
  });
  const [report] = reports;
  if (report === undefined) throw new Error('runSuites returned no report for the game day');
  const written = await writeGameDayReport(reportDir, report, journals);
  logger.info({ gameDay: id, outcome: report.outcome, report: reportDir }, 'game day report written');
  return {
    exitCode: exitCodes[report.outcome],
    human: written.map((path) => `  report: ${path}`).join('\n'),
    json: report,
  };
}
