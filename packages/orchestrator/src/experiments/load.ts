import { readdir, readFile, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { SimianError } from '@simian/protocol';
import { type Document, LineCounter, type Node, parseDocument, type YAMLError } from 'yaml';
import type { z } from 'zod';
// gameday/load.ts builds on this module; the cycle is only entered at call time, never while loading.
import { GAME_DAY_KIND, validateGameDaySource } from '../gameday/load.js';
import { experimentErrorMap, formatIssues, type SourceIssue } from './format-issues.js';
import { type Experiment, experimentSchema } from './schema.js';
import { type DocumentPath, findKeyAt, locatePath, positionAt, renderPath } from './source-positions.js';

export { formatIssue, formatIssues, type SourceIssue } from './format-issues.js';

export type ParseExperimentResult =
  | { ok: true; experiment: Experiment }
  | { ok: false; issues: SourceIssue[] };

/** An experiment read from disk, with the text it came from. */
export interface LoadedExperiment {
  file: string;
  source: string;
  experiment: Experiment;
}

/** The outcome of validating one file. */
export interface FileValidation {
  file: string;
  ok: boolean;
  issues: SourceIssue[];
  /** `metadata.name` of a valid experiment. */
  name?: string;
}

const EXPERIMENT_EXTENSIONS = ['.yaml', '.yml'];

/** Where issues land in one document. */
class IssueLocator {
  constructor(
    private readonly text: string,
    private readonly file: string,
    private readonly doc: Document,
    private readonly lineCounter: LineCounter,
  ) {}

  at(offset: number, path: DocumentPath, message: string): SourceIssue {
    const { line, column } = positionAt(this.lineCounter, offset);
    return { file: this.file, line, column, path: renderPath(path), message };
  }

  atNode(node: Node | undefined, path: DocumentPath, message: string): SourceIssue {
    return this.at(node?.range?.[0] ?? 0, path, message);
  }

  fromYaml(error: YAMLError): SourceIssue {
    if (error.code === 'DUPLICATE_KEY') {
      const found = findKeyAt(this.doc, error.pos[0]);
      if (found) return this.at(error.pos[0], found.path, `duplicate key '${found.key}'`);
    }
    const [firstLine = ''] = error.message.split('\n');
    // yaml reports indentation errors at the start of the line; the culprit is the first character.
    let offset = error.pos[0];
    while (this.text[offset] === ' ' || this.text[offset] === '\t') offset += 1;
    return this.at(offset, [], `YAML syntax error: ${firstLine}`);
  }

  fromZod(zodIssues: readonly z.core.$ZodIssue[], data: unknown): SourceIssue[] {
    const missing = new Map<z.core.$ZodIssue, string>();
    for (const issue of zodIssues) {
      const field = missingField(data, issue.path);
      if (field !== undefined) missing.set(issue, field);
    }
    // A misspelt field shows up twice, as unknown and as missing; one issue with a suggestion says it better.
    const explained = new Set<z.core.$ZodIssue>();
    const suggest = (parent: DocumentPath, key: string): string | undefined => {
      const parentPath = renderPath(parent);
      for (const [issue, field] of missing) {
        if (explained.has(issue) || renderPath(issue.path.slice(0, -1)) !== parentPath) continue;
        if (isLikelyTypo(key, field)) {
          explained.add(issue);
          return field;
        }
      }
      return undefined;
    };
    const issues: SourceIssue[] = [];
    for (const issue of zodIssues) {
      if (issue.code !== 'unrecognized_keys') continue;
      const { node } = locatePath(this.doc, issue.path);
      for (const key of issue.keys) {
        const keyNode = locatePath(this.doc, [...issue.path, key]).key;
        const meant = suggest(issue.path, key);
        const hint = meant === undefined ? '' : ` (did you mean '${meant}'?)`;
        issues.push(this.atNode(keyNode ?? node, issue.path, `unknown field '${key}'${hint}`));
      }
    }
    for (const issue of zodIssues) {
      if (issue.code === 'unrecognized_keys' || explained.has(issue)) continue;
      const field = missing.get(issue);
      if (field === undefined) {
        issues.push(this.atNode(locatePath(this.doc, issue.path).node, issue.path, issue.message));
        continue;
      }
      // Point at the mapping the field belongs in; the path still names the field.
      const { node } = locatePath(this.doc, issue.path.slice(0, -1));
      // A refinement about an absent field (an inbound fault without ports, a mode left at its
      // default) says more than "missing".
      if (issue.code === 'custom') {
        issues.push(this.atNode(node, issue.path, issue.message));
        continue;
      }
      const options: unknown =
        issue.code === 'invalid_union' && 'options' in issue ? issue.options : undefined;
      const oneOf = Array.isArray(options) ? ` (one of ${options.map(String).join(' | ')})` : '';
      issues.push(this.atNode(node, issue.path, `missing required field '${field}'${oneOf}`));
    }
    return issues;
  }
}

/** True when `typed` is a slip of the keyboard away from `known` (two edits, one for short names). */
function isLikelyTypo(typed: string, known: string): boolean {
  const a = typed.toLowerCase();
  const b = known.toLowerCase();
  const allowed = b.length <= 4 ? 1 : 2;
  if (Math.abs(a.length - b.length) > allowed) return false;
  let previous = Array.from({ length: b.length + 1 }, (_, index) => index);
  for (let i = 1; i <= a.length; i += 1) {
    const current = [i];
    for (let j = 1; j <= b.length; j += 1) {
      const substitution = (previous[j - 1] ?? 0) + (a[i - 1] === b[j - 1] ? 0 : 1);
      current.push(Math.min((previous[j] ?? 0) + 1, (current[j - 1] ?? 0) + 1, substitution));
    }
    previous = current;
  }
  return (previous[b.length] ?? Number.POSITIVE_INFINITY) <= allowed;
}

/** The name of the field when `path` ends on a key its mapping does not have. */
function missingField(data: unknown, path: readonly PropertyKey[]): string | undefined {
  const last = path.at(-1);
  if (typeof last !== 'string') return undefined;
  let parent: unknown = data;
  for (const segment of path.slice(0, -1)) {
    if (parent === null || typeof parent !== 'object') return undefined;
    parent = (parent as Record<PropertyKey, unknown>)[segment];
  }
  if (parent === null || typeof parent !== 'object' || Array.isArray(parent)) return undefined;
  return Object.hasOwn(parent, last) ? undefined : last;
}

function byPosition(a: SourceIssue, b: SourceIssue): number {
  return a.line - b.line || a.column - b.column;
}

function kindOf(data: unknown): unknown {
  return data !== null && typeof data === 'object' ? (data as Record<string, unknown>).kind : undefined;
}

/** What a document of some kind must be: its `kind`, its schema, and what an empty file lacks. */
export interface DocumentKind<T> {
  kind: string;
  schema: z.ZodType<T>;
  emptyMessage: string;
}

/** A parsed document, or every issue found in it. */
export type ParseDocumentResult<T> =
  | {
      ok: true;
      value: T;
      /** The document as written, before defaults. */
      raw: unknown;
      /** Places an issue found after parsing (e.g. in a file the document names) at a path of it. */
      issueAt: (path: DocumentPath, message: string) => SourceIssue;
    }
  | { ok: false; issues: SourceIssue[] };

/**
 * Parses and validates the text of a YAML document of one kind. Every problem comes back as an
 * issue at its line and column, sorted by position; nothing throws for bad input.
 */
export function parseDocumentSource<T>(
  text: string,
  file: string,
  expected: DocumentKind<T>,
): ParseDocumentResult<T> {
  const lineCounter = new LineCounter();
  const doc = parseDocument(text, { lineCounter, prettyErrors: false, uniqueKeys: true });
  const locator = new IssueLocator(text, file, doc, lineCounter);
  if (doc.errors.length > 0) {
    return { ok: false, issues: doc.errors.map((error) => locator.fromYaml(error)).sort(byPosition) };
  }
  let data: unknown;
  try {
    data = doc.toJS();
  } catch (error) {
    // toJS refuses alias bombs (maxAliasCount); that is bad input, not a crash.
    const message = error instanceof Error ? error.message : String(error);
    return { ok: false, issues: [locator.at(0, [], `YAML error: ${message}`)] };
  }
  if (data === null || data === undefined) {
    return { ok: false, issues: [locator.at(0, [], expected.emptyMessage)] };
  }
  const result = expected.schema.safeParse(data, { error: experimentErrorMap });
  if (result.success) {
    return {
      ok: true,
      value: result.data,
      raw: data,
      issueAt: (path, message) => locator.atNode(locatePath(doc, path).node, path, message),
    };
  }
  let zodIssues = result.error.issues;
  const kind = kindOf(data);
  // Another kind of document (a GameDay, say) fails every field of an Experiment; only the kind matters.
  if (typeof kind === 'string' && kind !== expected.kind) {
    zodIssues = zodIssues.filter((issue) => issue.path.length === 1 && issue.path[0] === 'kind');
  }
  return { ok: false, issues: locator.fromZod(zodIssues, data).sort(byPosition) };
}

/** The `kind` a YAML text declares, or undefined when it declares none or does not parse. */
export function documentKind(text: string): unknown {
  const doc = parseDocument(text, { prettyErrors: false });
  if (doc.errors.length > 0) return undefined;
  try {
    return kindOf(doc.toJS());
  } catch {
    return undefined;
  }
}

/**
 * Parses and validates the text of an experiment file. Every problem comes back as an issue
 * at its line and column, sorted by position; nothing throws for bad input.
 */
export function parseExperimentSource(text: string, file: string): ParseExperimentResult {
  const result = parseDocumentSource(text, file, {
    kind: 'Experiment',
    schema: experimentSchema,
    emptyMessage: 'the file is empty; expected an experiment with apiVersion, kind, metadata and spec',
  });
  return result.ok ? { ok: true, experiment: result.value } : result;
}

function isNotFound(error: unknown): boolean {
  const code = (error as NodeJS.ErrnoException | undefined)?.code;
  return (
    code === 'ENOENT' || code === 'ENOTDIR' || code === 'EACCES' || code === 'EISDIR' || code === 'EPERM'
  );
}

async function readSource(file: string): Promise<string> {
  try {
    return await readFile(file, 'utf8');
  } catch (error) {
    if (!isNotFound(error)) throw error;
    const reason = (error as NodeJS.ErrnoException).code === 'EISDIR' ? 'it is a directory' : 'no such file';
    throw new SimianError('SIMIAN_FILE_NOT_FOUND', `cannot read experiment file ${file}: ${reason}`, {
      hint: 'check the path; it is resolved from the current directory',
      cause: error,
    });
  }
}

/**
 * Reads and validates one experiment file.
 * @throws SimianError SIMIAN_FILE_NOT_FOUND when the file cannot be read, SIMIAN_INVALID_EXPERIMENT
 * (every issue formatted as `file:line:col: path: message`, one per line) when it is not valid.
 */
export async function loadExperimentFile(file: string): Promise<LoadedExperiment> {
  const source = await readSource(file);
  const result = parseExperimentSource(source, file);
  if (!result.ok) {
    throw new SimianError('SIMIAN_INVALID_EXPERIMENT', formatIssues(result.issues), {
      hint: 'fix the lines above; nothing was run',
    });
  }
  return { file, source, experiment: result.experiment };
}

async function walk(dir: string): Promise<string[]> {
  const entries = await readdir(dir, { withFileTypes: true });
  const files: string[] = [];
  for (const entry of entries) {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) {
      // Checked-out dependencies and tool folders hold YAML that is not ours.
      if (entry.name === 'node_modules' || entry.name.startsWith('.')) continue;
      files.push(...(await walk(path)));
    } else if (entry.isFile() && EXPERIMENT_EXTENSIONS.some((extension) => entry.name.endsWith(extension))) {
      files.push(path);
    }
  }
  return files;
}

/**
 * Expands the files and directories named on a command line into experiment files: a file is
 * taken as it is, a directory is walked for `*.yaml` and `*.yml` (skipping `node_modules` and
 * dot-directories), sorted. Each file appears once, in the order first named.
 * @throws SimianError SIMIAN_FILE_NOT_FOUND naming the first path that does not exist.
 */
export async function collectExperimentFiles(paths: readonly string[]): Promise<string[]> {
  const files: string[] = [];
  for (const path of paths) {
    let isDirectory: boolean;
    try {
      isDirectory = (await stat(path)).isDirectory();
    } catch (error) {
      if (!isNotFound(error)) throw error;
      throw new SimianError('SIMIAN_FILE_NOT_FOUND', `no such file or directory: ${path}`, {
        hint: 'name experiment files or directories that hold them; paths are resolved from the current directory',
        cause: error,
      });
    }
    if (isDirectory) files.push(...(await walk(path)).sort((a, b) => (a < b ? -1 : a > b ? 1 : 0)));
    else files.push(path);
  }
  return [...new Set(files)];
}

/**
 * Validates every experiment and game-day file under `paths`. Invalid content is reported, never thrown.
 * @throws SimianError SIMIAN_FILE_NOT_FOUND when a path does not exist or a file cannot be read.
 */
export async function validateFiles(paths: readonly string[]): Promise<FileValidation[]> {
  const files = await collectExperimentFiles(paths);
  const results: FileValidation[] = [];
  for (const file of files) {
    const source = await readSource(file);
    // Game days are checked with the experiments they name.
    if (documentKind(source) === GAME_DAY_KIND) {
      results.push(await validateGameDaySource(source, file));
      continue;
    }
    const result = parseExperimentSource(source, file);
    results.push(
      result.ok
        ? { file, ok: true, issues: [], name: result.experiment.metadata.name }
        : { file, ok: false, issues: result.issues },
    );
  }
  return results;
}
