import { readFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { durationMs, SimianError } from '@simian/protocol';
import { stringify } from 'yaml';
import {
  type FileValidation,
  formatIssues,
  parseDocumentSource,
  parseExperimentSource,
  type SourceIssue,
} from '../experiments/load.js';
import { API_VERSION, type Experiment } from '../experiments/schema.js';
import { GAME_DAY_KIND, type GameDay, gameDaySchema } from './schema.js';

export { GAME_DAY_KIND } from './schema.js';

/** An experiment step, ready to be sent to an orchestrator. */
export interface PlannedExperiment {
  type: 'experiment';
  /** Index in `spec.steps`. */
  index: number;
  name: string;
  /** The experiment file, or `<game day>#spec.steps[i].inline` for an inline experiment. */
  file: string;
  /** The YAML text sent to the orchestrator. */
  source: string;
  experiment: Experiment;
  required: boolean;
  weight: number;
}

export type PlannedStep =
  | PlannedExperiment
  | { type: 'pause'; index: number; duration: string; durationMs: number; reason?: string }
  | { type: 'approval'; index: number; message: string };

/** A game day with every experiment it names read and validated. */
export interface LoadedGameDay {
  file: string;
  gameDay: GameDay;
  steps: PlannedStep[];
}

export type ParseGameDayResult = { ok: true; loaded: LoadedGameDay } | { ok: false; issues: SourceIssue[] };

const EMPTY_MESSAGE = 'the file is empty; expected a game day with apiVersion, kind, metadata and spec';

/** Reads a file a game day names; undefined with the reason when it cannot be read. */
async function readReferenced(path: string): Promise<{ text: string } | { reason: string }> {
  try {
    return { text: await readFile(path, 'utf8') };
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    if (code === 'EISDIR') return { reason: 'it is a directory' };
    if (code === 'ENOENT' || code === 'ENOTDIR') return { reason: 'no such file' };
    if (code === 'EACCES' || code === 'EPERM') return { reason: 'permission denied' };
    throw error;
  }
}

/**
 * Parses a game-day text and reads every experiment file it names (paths are relative to the
 * game-day file). Issues in the game day come first, by position, then issues in the experiment
 * files, each naming its own file; nothing throws for bad input.
 */
export async function parseGameDaySource(text: string, file: string): Promise<ParseGameDayResult> {
  const parsed = parseDocumentSource(text, file, {
    kind: GAME_DAY_KIND,
    schema: gameDaySchema,
    emptyMessage: EMPTY_MESSAGE,
  });
  if (!parsed.ok) return parsed;
  const gameDay = parsed.value;
  const issues: SourceIssue[] = [];
  const steps: PlannedStep[] = [];
  const rawSteps = rawStepsOf(parsed.raw);
  for (const [index, step] of gameDay.spec.steps.entries()) {
    switch (step.type) {
      case 'pause':
        steps.push({
          type: 'pause',
          index,
          duration: step.duration,
          durationMs: durationMs(step.duration),
          ...(step.reason === undefined ? {} : { reason: step.reason }),
        });
        break;
      case 'approval':
        steps.push({ type: 'approval', index, message: step.message });
        break;
      case 'inline': {
        // Sent as written (defaults are the orchestrator's to fill in), with the header it may omit.
        const raw = rawSteps[index]?.inline as Record<string, unknown> | undefined;
        const source = stringify({ apiVersion: API_VERSION, kind: 'Experiment', ...raw });
        steps.push({
          type: 'experiment',
          index,
          name: step.inline.metadata.name,
          file: `${file}#spec.steps[${index}].inline`,
          source,
          experiment: { ...step.inline, apiVersion: API_VERSION, kind: 'Experiment' },
          required: step.required,
          weight: step.weight,
        });
        break;
      }
      case 'experiment': {
        const path = join(dirname(file), step.path);
        const read = await readReferenced(path);
        if ('reason' in read) {
          issues.push(
            parsed.issueAt(
              ['spec', 'steps', index, 'experiment'],
              `cannot read experiment file ${path}: ${read.reason} (paths are relative to the game-day file)`,
            ),
          );
          break;
        }
        const experiment = parseExperimentSource(read.text, path);
        if (!experiment.ok) {
          issues.push(...experiment.issues);
          break;
        }
        steps.push({
          type: 'experiment',
          index,
          name: experiment.experiment.metadata.name,
          file: path,
          source: read.text,
          experiment: experiment.experiment,
          required: step.required,
          weight: step.weight,
        });
        break;
      }
    }
  }
  if (issues.length > 0) return { ok: false, issues };
  return { ok: true, loaded: { file, gameDay, steps } };
}

function rawStepsOf(raw: unknown): Array<Record<string, unknown> | undefined> {
  const spec = (raw as { spec?: { steps?: unknown } } | undefined)?.spec;
  return Array.isArray(spec?.steps) ? (spec.steps as Array<Record<string, unknown> | undefined>) : [];
}

/**
 * Reads and validates a game-day file and the experiments it names.
 * @throws SimianError SIMIAN_FILE_NOT_FOUND when the file cannot be read, SIMIAN_INVALID_GAMEDAY
 * (every issue as `file:line:col: path: message`, one per line) when it or an experiment is not valid.
 */
export async function loadGameDayFile(file: string): Promise<LoadedGameDay> {
  const read = await readReferenced(file);
  if ('reason' in read) {
    throw new SimianError('SIMIAN_FILE_NOT_FOUND', `cannot read game-day file ${file}: ${read.reason}`, {
      hint: 'check the path; it is resolved from the current directory',
    });
  }
  return loadGameDaySource(read.text, file);
}

/** {@link loadGameDayFile} for text already read. */
export async function loadGameDaySource(text: string, file: string): Promise<LoadedGameDay> {
  const result = await parseGameDaySource(text, file);
  if (!result.ok) {
    throw new SimianError('SIMIAN_INVALID_GAMEDAY', formatIssues(result.issues), {
      hint: 'fix the lines above; nothing was run',
    });
  }
  return result.loaded;
}

/** `simian validate` of a game-day file: its own issues and those of the experiments it names. */
export async function validateGameDaySource(text: string, file: string): Promise<FileValidation> {
  const result = await parseGameDaySource(text, file);
  return result.ok
    ? { file, ok: true, issues: [], name: result.loaded.gameDay.metadata.name }
    : { file, ok: false, issues: result.issues };
}
