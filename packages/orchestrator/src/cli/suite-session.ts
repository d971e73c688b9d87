import { mkdir, writeFile } from 'node:fs/promises';
import { join, relative } from 'node:path';
import { createInterface } from 'node:readline/promises';
import { SimianError } from '@simian/protocol';
import type { Logger } from 'pino';
import { renderSuiteHtml } from '../gameday/html.js';
import type { PlannedExperiment } from '../gameday/load.js';
import { renderGameDayMarkdown } from '../gameday/markdown.js';
import type { SuiteReport } from '../gameday/report-schema.js';
import { type Approver, runSuite, type Suite } from '../gameday/run-suite.js';
import { type SuiteOutput, SuiteProgress } from '../gameday/suite-progress.js';
import { type Journal, writeJournal } from '../runner/journal.js';
import { startEmbedded } from './embedded.js';
import { requestRun } from './run-client.js';
import { stateDir } from './state-dir.js';
import { requireToken } from './token.js';

/** Flags `simian gameday` and `simian gate` share. */
export interface SessionFlags {
  /** The command, for messages: `gameday` or `gate`. */
  command: string;
  orchestrator?: URL | undefined;
  tokenFile?: string | undefined;
  lease?: number | undefined;
  yes: boolean;
  json: boolean;
}

/** Where the operator answers approval prompts. */
export interface Terminal {
  input: NodeJS.ReadableStream & { isTTY?: boolean };
  output: NodeJS.WritableStream;
}

/**
 * Refuses, before anything runs, a suite with approval steps that nobody can answer: without
 * a terminal a prompt would wait forever (or read EOF as a "no" halfway through a game day).
 */
export function checkApprovals(suites: readonly Suite[], flags: SessionFlags, terminal: Terminal): void {
  if (flags.yes || terminal.input.isTTY === true) return;
  const approvals = suites.flatMap((suite) =>
    suite.steps.flatMap((step) =>
      step.type === 'approval' ? [`${suite.file ?? suite.name} step ${step.index + 1}`] : [],
    ),
  );
  if (approvals.length === 0) return;
  throw new SimianError(
    'SIMIAN_APPROVAL_REQUIRED',
    `the game day asks for approval (${approvals.join(', ')}), but stdin is not a terminal; nothing was run`,
    { hint: 'run it from a terminal to answer the prompts, or pass --yes to approve every step in advance' },
  );
}

/** The reports of the suites run, and the journals of their runs by run id. */
export interface SuiteRuns {
  reports: SuiteReport[];
  journals: Map<string, Journal>;
}

/**
 * Runs suites one after another on one orchestrator (embedded, or `--orchestrator`), through
 * the same HTTP API and run path as `simian run`. Journals go to `$SIMIAN_STATE_DIR/runs/` and a
 * copy to `<reportDir>/journals/`. Ctrl-C (`signal`) halts the current run, whose faults are
 * reverted at once, and skips every step after it; the reports still come back.
 */
export async function runSuites(options: {
  suites: Suite[];
  flags: SessionFlags;
  reportDir: string;
  out: SuiteOutput;
  terminal: Terminal;
  logger: Logger;
  signal: AbortSignal;
}): Promise<SuiteRuns> {
  const { suites, flags, reportDir, out, terminal, logger, signal } = options;
  checkApprovals(suites, flags, terminal);
  const target = flags.orchestrator
    ? {
        url: flags.orchestrator,
        token: await requireToken(flags.tokenFile, `simian ${flags.command} --orchestrator`),
        close: async () => {},
      }
    : await startEmbedded(logger, flags.lease ?? 30_000);
  // --json keeps stdout for the document; nobody is told anything there until the end.
  const progress = new SuiteProgress(flags.json ? { isTTY: false, write: () => {} } : out);
  const prompts: Terminal = flags.json ? { ...terminal, output: process.stderr } : terminal;
  const reports: SuiteReport[] = [];
  const journals = new Map<string, Journal>();
  try {
    for (const suite of suites) {
      progress.suiteStarted(suite);
      const report = await runSuite(
        suite,
        {
          runExperiment: async (step: PlannedExperiment, stepSignal: AbortSignal) => {
            const outcome = await requestRun(
              target.url,
              target.token,
              {
                source: step.source,
                file: relative(process.cwd(), step.file) || step.file,
                dryRun: false,
                origin: 'gameday',
                ...(flags.lease === undefined ? {} : { leaseMs: flags.lease }),
              },
              (event) => progress.runEvent(event),
              stepSignal,
            );
            if (outcome.kind !== 'journal') throw new Error('the orchestrator answered a run with a plan');
            const { journal } = outcome;
            journals.set(journal.runId, journal);
            const journalPath = join(reportDir, 'journals', `${journal.runId}.json`);
            await writeJournal(join(stateDir(), 'runs', `${journal.runId}.json`), journal);
            await writeJournal(journalPath, journal);
            logger.info(
              { runId: journal.runId, verdict: journal.verdict, gameDay: suite.id, journal: journalPath },
              'journal written',
            );
            return { journal, journalPath };
          },
          approve: async (message, stepSignal) => {
            if (flags.yes) return { approved: true, by: '--yes' as Approver };
            progress.suspend();
            try {
              return { approved: await ask(prompts, message, stepSignal), by: 'operator' as Approver };
            } finally {
              progress.resume();
            }
          },
          stepStarted: (step, position, total) => progress.stepStarted(step, position, total),
          stepFinished: (result) => progress.stepFinished(result),
        },
        signal,
      );
      progress.suiteFinished(report);
      reports.push(report);
    }
  } finally {
    progress.stop();
    await target.close();
  }
  return { reports, journals };
}

/** A yes/no question on the terminal; Ctrl-C or the end of input is a no. */
async function ask(terminal: Terminal, message: string, signal: AbortSignal): Promise<boolean> {
  if (signal.aborted) return false;
  const prompt = createInterface({ input: terminal.input, output: terminal.output, terminal: true });
  // In raw mode Ctrl-C reaches readline, not the process; hand it on to the one SIGINT handler.
  prompt.on('SIGINT', () => process.kill(process.pid, 'SIGINT'));
  try {
    const answer = await prompt.question(`${message} [y/N] `, { signal });
    return /^y(es)?$/i.test(answer.trim());
  } catch {
    return false;
  } finally {
    prompt.close();
  }
}

/**
 * Writes the report of one game day into `dir`: `report.json`, `report.md` and `report.html`
 * (self-contained, with the probe charts of every run). Returns the paths written.
 */
export async function writeGameDayReport(
  dir: string,
  report: SuiteReport,
  journals: ReadonlyMap<string, Journal>,
): Promise<string[]> {
  await mkdir(dir, { recursive: true });
  const json = join(dir, 'report.json');
  const markdown = join(dir, 'report.md');
  const html = join(dir, 'report.html');
  await writeFile(json, `${JSON.stringify(report, null, 2)}\n`);
  await writeFile(markdown, renderGameDayMarkdown(report));
  await writeFile(html, renderSuiteHtml(report, journals));
  return [json, markdown, html];
}
