import { readFile } from 'node:fs/promises';
import { join, relative } from 'node:path';
import type { Logger } from 'pino';
import { z } from 'zod';
import { loadExperimentFile } from '../../experiments/load.js';
import { writeJournal } from '../../runner/journal.js';
import { startEmbedded } from '../embedded.js';
import { exitCodes } from '../exit-codes.js';
import { type Output, ProgressPrinter } from '../progress.js';
import { requestRun } from '../run-client.js';
import { stateDir } from '../state-dir.js';
import { requireToken } from '../token.js';
import type { CommandResult } from './command-result.js';

export const runFlagsSchema = z.strictObject({
  orchestrator: z.instanceof(URL).optional(),
  dryRun: z.boolean().default(false),
  seed: z.number().optional(),
  json: z.boolean().default(false),
  journal: z.string().optional(),
  /** Lease for this run's faults; the orchestrator's default when absent. */
  lease: z.number().optional(),
  tokenFile: z.string().optional(),
});
export type RunFlags = z.infer<typeof runFlagsSchema>;

/** `simian run FILE`: validate locally, run embedded or remotely, print progress and the verdict. */
export async function runCommand(
  file: string,
  flags: RunFlags,
  out: Output,
  logger: Logger,
  signal: AbortSignal,
): Promise<CommandResult> {
  // Validate here first so bad input names file:line:column and nothing is sent or started.
  const loaded = await loadExperimentFile(file);
  const source = await readFile(file, 'utf8');
  const printer = new ProgressPrinter(out);
  const target = flags.orchestrator
    ? {
        url: flags.orchestrator,
        token: await requireToken(flags.tokenFile, 'simian run --orchestrator'),
        close: async () => {},
      }
    : await startEmbedded(logger, flags.lease ?? 30_000);
  try {
    const outcome = await requestRun(
      target.url,
      target.token,
      {
        source,
        file: relative(process.cwd(), file) || file,
        dryRun: flags.dryRun,
        leaseMs: flags.lease,
        seed: flags.seed,
      },
      (event) => {
        if (!flags.json) printer.handle(event);
      },
      signal,
    );
    if (outcome.kind === 'plan') {
      if (!flags.json) printer.printPlan(outcome.plan);
      return { exitCode: exitCodes.passed, json: { plan: outcome.plan } };
    }
    const journal = outcome.journal;
    const path = flags.journal ?? join(stateDir(), 'runs', `${journal.runId}.json`);
    await writeJournal(path, journal);
    if (!flags.json) {
      printer.handle({ type: 'journal', journal });
      printer.line(`  journal: ${path}`);
    }
    logger.info(
      {
        runId: journal.runId,
        verdict: journal.verdict,
        journal: path,
        experiment: loaded.experiment.metadata.name,
      },
      'journal written',
    );
    return { exitCode: exitCodes[journal.verdict], json: journal };
  } finally {
    await target.close();
  }
}
