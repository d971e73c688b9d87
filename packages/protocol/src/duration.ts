import { z } from 'zod';

const UNIT_MS = { ms: 1, s: 1_000, m: 60_000, h: 3_600_000 } as const;
const DURATION_RE = /^(\d+(?:\.\d+)?)(ms|s|m|h)$/;

/** Parses `500ms`, `30s`, `5m`, `1h` to milliseconds; returns undefined for anything else. */
export function parseDuration(text: string): number | undefined {
  const match = DURATION_RE.exec(text.trim());
  if (!match) return undefined;
  const [, amount, unit] = match;
  return Math.round(Number(amount) * UNIT_MS[unit as keyof typeof UNIT_MS]);
}

/** Milliseconds of a duration already validated by {@link durationSchema}. */
export function durationMs(text: string): number {
  const ms = parseDuration(text);
  if (ms === undefined) throw new Error(`not a duration: ${JSON.stringify(text)}`);
  return ms;
}

export function formatDuration(ms: number): string {
  if (ms < 1_000) return `${Math.round(ms)}ms`;
  if (ms < 60_000) return `${(ms / 1_000).toFixed(ms % 1_000 === 0 ? 0 : 1)}s`;
  return `${(ms / 60_000).toFixed(ms % 60_000 === 0 ? 0 : 1)}m`;
}

/**
 * A duration string such as `500ms`, `30s`, `5m` or `1h`. The schema keeps the text so a
 * parsed document can be sent over the wire and parsed again by the same schema.
 */
export const durationSchema = z
  .string({ error: 'expected a duration such as 500ms, 30s or 5m' })
  .refine((text) => parseDuration(text) !== undefined, {
    error: (issue) => `expected a duration such as 500ms, 30s or 5m, got ${JSON.stringify(issue.input)}`,
  });
