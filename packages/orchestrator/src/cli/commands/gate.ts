import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { SimianError } from '@simian/protocol';
import pc from 'picocolors';
import type { Logger } from 'pino';
import { z } from 'zod';
import {
  collectExperimentFiles,
  documentKind,
  formatIssues,
  parseExperimentSource,
  type SourceIssue,
} from '../../experiments/load.js';
import { buildGateReport } from '../../gameday/gate-report.js';
import { renderSuiteHtml } from '../../gameday/html.js';
import { renderJUnit } from '../../gameday/junit.js';
import { GAME_DAY_KIND, type PlannedExperiment, parseGameDaySource } from '../../gameday/load.js';
import { renderGateMarkdown } from '../../gameday/markdown.js';
import type { GateReport } from '../../gameday/report-schema.js';
import type { Suite } from '../../gameday/run-suite.js';
import type { SuiteOutput } from '../../gameday/suite-progress.js';
import { type Journal, newRunId } from '../../runner/journal.js';
import { stateDir } from '../state-dir.js';
import { runSuites, type Terminal } from '../suite-session.js';
import type { CommandResult } from './command-result.js';

export const gateFlagsSchema = z.strictObject({
  /** The score (0 to 100) every suite together must reach. */
  minScore: z.number().min(0).max(100).optional(),
  /** Where the JUnit XML goes. */
  junit: z.string().optional(),
  /** Where the JSON and Markdown reports go; `$SIMIAN_STATE_DIR/gates/<id>/` when absent. */
  report: z.string().optional(),
  orchestrator: z.instanceof(URL).optional(),
  yes: z.boolean().default(false),
  json: z.boolean().default(false),
  lease: z.number().optional(),
  tokenFile: z.string().optional(),
});
export type GateFlags = z.infer<typeof gateFlagsSchema>;

/** Experiments named directly (not through a game day) form one suite of this name. */
export const LOOSE_SUITE_NAME = 'simian';

/**
 * Reads every file under `paths` into suites: each game day is one, and the experiments named
 * directly form one more (`simian`, onFailure continue, each required with weight 1), placed
 * where the first of them was named. Every file is checked before anything runs.
 * @throws SimianError SIMIAN_INVALID_GAMEDAY or SIMIAN_INVALID_EXPERIMENT with every issue.
 */
export async function loadGateSuites(paths: readonly string[], id: string): Promise<Suite[]> {
  const files = await collectExperimentFiles(paths);
  const suites: Suite[] = [];
  const issues: SourceIssue[] = [];
  let invalidGameDay = false;
  let loose: Suite | undefined;
  for (const file of files) {
    const text = await readFile(file, 'utf8');
    if (documentKind(text) === GAME_DAY_KIND) {
      const result = await parseGameDaySource(text, file);
      if (!result.ok) {
        issues.push(...result.issues);
        invalidGameDay = true;
        continue;
      }
      const { gameDay, steps } = result.loaded;
      suites.push({
        id: `${id}-${suites.length + 1}`,
        name: gameDay.metadata.name,
        file,
        ...(gameDay.metadata.description === undefined ? {} : { description: gameDay.metadata.description }),
        onFailure: gameDay.spec.onFailure,
        ...(gameDay.spec.minScore === undefined ? {} : { minScore: gameDay.spec.minScore }),
        steps,
      });
      continue;
    }
    const result = parseExperimentSource(text, file);
    if (!result.ok) {
      issues.push(...result.issues);
      continue;
    }
    if (loose === undefined) {
      loose = { id: `${id}-${suites.length + 1}`, name: LOOSE_SUITE_NAME, onFailure: 'continue', steps: [] };
      suites.push(loose);
    }
    const step: PlannedExperiment = {
      type: 'experiment',
      index: loose.steps.length,
      name: result.experiment.metadata.name,
      file,
      source: text,
      experiment: result.experiment,
      required: true,
      weight: 1,
    };
    loose.steps.push(step);
  }
  if (issues.length > 0) {
    throw new SimianError(
      invalidGameDay ? 'SIMIAN_INVALID_GAMEDAY' : 'SIMIAN_INVALID_EXPERIMENT',
      formatIssues(issues),
      {
        hint: 'fix the lines above; nothing was run',
      },
    );
  }
  if (suites.length === 0) {
    throw new SimianError(
      'SIMIAN_FILE_NOT_FOUND',
      `no experiment or game-day file under ${paths.join(', ')}`,
      {
        hint: 'name *.yaml / *.yml files or directories that hold them',
      },
    );
  }
  return suites;
}

/**
 * `simian gate PATHS...`: run the experiments and game days for a release pipeline and decide.
 * Exit 0 only when every required experiment passed and the score reaches --min-score (and each
 * game day's own minScore); the reports and the JUnit XML are written in every case.
 */
export async function gateCommand(
  paths: string[],
  flags: GateFlags,
  out: SuiteOutput,
  terminal: Terminal,
  logger: Logger,
  signal: AbortSignal,
): Promise<CommandResult> {
  const id = newRunId();
  const startedAt = Date.now();
  const suites = await loadGateSuites(paths, id);
  const reportDir = flags.report ?? join(stateDir(), 'gates', id);
  const { reports, journals } = await runSuites({
    suites,
    flags: { ...flags, command: 'gate' },
    reportDir,
    out,
    terminal,
    logger,
    signal,
  });
  const report = buildGateReport({
    id,
    startedAt,
    suites: reports,
    ...(flags.minScore === undefined ? {} : { minScore: flags.minScore }),
  });
  const written = await writeGateReport(reportDir, report, journals, flags.junit);
  logger.info({ gate: id, outcome: report.outcome, score: report.score, report: reportDir }, 'gate decided');
  return { exitCode: report.exitCode, human: summary(report, written), json: report };
}

/**
 * Writes `report.json`, `report.md` and the HTML report into `dir` (`report.html`, or one
 * `report-<n>-<suite>.html` per suite when there are several), and the JUnit XML to `junit`.
 */
export async function writeGateReport(
  dir: string,
  report: GateReport,
  journals: ReadonlyMap<string, Journal>,
  junit: string | undefined,
): Promise<string[]> {
  await mkdir(dir, { recursive: true });
  const json = join(dir, 'report.json');
  const markdown = join(dir, 'report.md');
  await writeFile(json, `${JSON.stringify(report, null, 2)}\n`);
  await writeFile(markdown, renderGateMarkdown(report));
  const written = [json, markdown];
  for (const [index, suite] of report.suites.entries()) {
    const html = join(
      dir,
      report.suites.length === 1 ? 'report.html' : `report-${index + 1}-${suite.name}.html`,
    );
    await writeFile(html, renderSuiteHtml(suite, journals));
    written.push(html);
  }
  if (junit !== undefined) {
    await mkdir(dirname(junit), { recursive: true });
    await writeFile(junit, renderJUnit(report));
    written.push(junit);
  }
  return written;
}

function summary(report: GateReport, written: readonly string[]): string {
  const style =
    report.outcome === 'passed'
      ? pc.green
      : report.outcome === 'aborted'
        ? pc.yellow
        : report.outcome === 'error'
          ? pc.magenta
          : pc.red;
  const verdict = report.outcome === 'belowMinScore' ? 'BELOW MIN SCORE' : report.outcome.toUpperCase();
  return [
    `${style(pc.bold(`gate ${verdict}`))}  score ${report.score}${report.minScore === undefined ? '' : ` (minimum ${report.minScore})`}  exit ${report.exitCode}`,
    `  ${report.reason}`,
    ...written.map((path) => `  wrote ${path}`),
  ].join('\n');
}

/** `--min-score N`: a number from 0 to 100. */
export function minScoreFlag(value: string): number {
  const score = Number(value);
  if (value.trim() === '' || !Number.isFinite(score) || score < 0 || score > 100) {
    throw new SimianError(
      'SIMIAN_USAGE',
      `--min-score: expected a number from 0 to 100, got ${JSON.stringify(value)}`,
    );
  }
  return score;
}
