import type { z } from 'zod';
import { renderPath } from './source-positions.js';

/** One problem in an experiment file, at a 1-based line and column. */
export interface SourceIssue {
  file: string;
  line: number;
  column: number;
  /** Where in the document, e.g. `spec.faults[1].type`; empty for the file as a whole. */
  path: string;
  message: string;
}

/** `file:line:col: path: message`, or `file:line:col: message` when the issue has no path. */
export function formatIssue(issue: SourceIssue): string {
  const where = `${issue.file}:${issue.line}:${issue.column}`;
  return issue.path === '' ? `${where}: ${issue.message}` : `${where}: ${issue.path}: ${issue.message}`;
}

/** Every issue formatted, one per line. */
export function formatIssues(issues: readonly SourceIssue[]): string {
  return issues.map(formatIssue).join('\n');
}

const MAX_SHOWN_TEXT = 60;

/** A value as it appears after `got`: strings quoted, collections by their YAML name. */
export function describeValue(value: unknown): string {
  if (typeof value === 'string') {
    const text = value.length > MAX_SHOWN_TEXT ? `${value.slice(0, MAX_SHOWN_TEXT)}…` : value;
    return `'${text}'`;
  }
  if (value === null || typeof value === 'object' || value === undefined) return describeType(value);
  return String(value);
}

/** The YAML name of a value's type: mapping, list, string, number, boolean or null. */
export function describeType(value: unknown): string {
  if (value === null) return 'null';
  if (value === undefined) return 'nothing';
  if (Array.isArray(value)) return 'list';
  if (typeof value === 'object') return 'mapping';
  return typeof value;
}

const EXPECTED_NAMES: Record<string, string> = {
  object: 'mapping',
  array: 'list',
  int: 'integer',
  record: 'mapping',
};

function expectedName(expected: string): string {
  return EXPECTED_NAMES[expected] ?? expected;
}

function plural(count: number | bigint, noun: string): string {
  return `${count} ${noun}${count === 1 || count === 1n ? '' : 's'}`;
}

function sizeMessage(issue: z.core.$ZodRawIssue, bound: 'at least' | 'at most'): string | undefined {
  if (issue.code !== 'too_small' && issue.code !== 'too_big') return undefined;
  const limit = issue.code === 'too_small' ? issue.minimum : issue.maximum;
  switch (issue.origin) {
    case 'array':
    case 'set':
      return `expected ${bound} ${plural(limit, 'item')}, got ${describeSize(issue.input)}`;
    case 'string':
      if (issue.code === 'too_small' && limit === 1) return 'must not be empty';
      return `expected ${bound} ${plural(limit, 'character')}, got ${describeSize(issue.input)}`;
    default: {
      const strict = issue.inclusive === false;
      const words =
        bound === 'at least' ? (strict ? 'more than' : 'at least') : strict ? 'less than' : 'at most';
      return `expected ${words} ${String(limit)}, got ${describeValue(issue.input)}`;
    }
  }
}

function describeSize(input: unknown): string {
  if (Array.isArray(input)) return plural(input.length, 'item');
  if (typeof input === 'string') return plural(input.length, 'character');
  return describeValue(input);
}

function unionMessage(issue: z.core.$ZodRawIssue & { code: 'invalid_union' }): string | undefined {
  const options: unknown = 'options' in issue ? issue.options : undefined;
  if (issue.discriminator !== undefined && Array.isArray(options)) {
    const input = issue.input as Record<string, unknown>;
    return `expected one of ${options.map(String).join(' | ')}, got ${describeValue(input[issue.discriminator])}`;
  }
  const branches = issue.errors.filter((branch) => branch.length > 0);
  const typeMisses = branches.map((branch) => {
    const [first] = branch;
    return first?.code === 'invalid_type' && first.path.length === 0 ? first.expected : undefined;
  });
  if (typeMisses.every((expected) => expected !== undefined)) {
    return `expected ${typeMisses.map(expectedName).join(' or ')}, got ${describeType(issue.input)}`;
  }
  // The branch whose type matched is the one the user meant; its first complaint is the useful one.
  const meant = branches[typeMisses.indexOf(undefined)];
  const first = meant?.[0];
  if (first === undefined) return undefined;
  return first.path.length === 0 ? first.message : `${renderPath(first.path)}: ${first.message}`;
}

/**
 * Zod's per-parse error map in the house style (`expected number, got string`). Schemas that
 * set their own message keep it: zod only asks this map when the schema has none.
 */
export const experimentErrorMap: z.core.$ZodErrorMap = (issue) => {
  switch (issue.code) {
    case 'invalid_type':
      return `expected ${expectedName(issue.expected)}, got ${describeType(issue.input)}`;
    case 'invalid_value':
      if (issue.values.length === 1)
        return `expected ${String(issue.values[0])}, got ${describeValue(issue.input)}`;
      return `expected one of ${issue.values.map(String).join(' | ')}, got ${describeValue(issue.input)}`;
    case 'invalid_union':
      return unionMessage(issue);
    case 'too_small':
      return sizeMessage(issue, 'at least');
    case 'too_big':
      return sizeMessage(issue, 'at most');
    case 'invalid_format':
      if (issue.format === 'regex' && issue.pattern !== undefined) {
        return `expected text matching ${issue.pattern}, got ${describeValue(issue.input)}`;
      }
      return `expected a valid ${issue.format}, got ${describeValue(issue.input)}`;
    case 'not_multiple_of':
      return `expected a multiple of ${String(issue.divisor)}, got ${describeValue(issue.input)}`;
    case 'unrecognized_keys':
      return issue.keys.map((key) => `unknown field '${key}'`).join(', ');
    default:
      return undefined;
  }
};
