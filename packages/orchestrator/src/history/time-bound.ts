import { parseDuration } from '@simian/protocol';

const DATE_RE = /^(\d{4})-(\d{2})-(\d{2})$/;
const DATE_TIME_RE = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(?::\d{2}(?:\.\d{1,3})?)?(Z|[+-]\d{2}:\d{2})?$/;
const DAYS_RE = /^(\d+)d$/;

/**
 * `--since` / `--until` and the API's `since` / `until`: a date (`2026-11-22`, UTC midnight), a
 * date and time (`2026-11-22T10:00`, UTC unless it carries `Z` or an offset), epoch milliseconds,
 * or a duration ago (`90m`, `24h`, `7d`). Returns epoch ms, or undefined when the text is none of
 * these. UTC by default so the same command means the same runs on every machine.
 */
export function parseTimeBound(text: string, now = Date.now()): number | undefined {
  const value = text.trim();
  if (/^\d+$/.test(value) && value.length >= 10) return Number(value);
  const days = DAYS_RE.exec(value);
  if (days) return now - Number(days[1]) * 86_400_000;
  const ago = parseDuration(value);
  if (ago !== undefined) return now - ago;
  if (DATE_RE.test(value)) return validDate(`${value}T00:00:00Z`, value);
  const match = DATE_TIME_RE.exec(value);
  if (match) return validDate(match[1] === undefined ? `${value}Z` : value, value);
  return undefined;
}

function validDate(iso: string, original: string): number | undefined {
  const ms = Date.parse(iso);
  if (Number.isNaN(ms)) return undefined;
  // Date.parse rolls 2026-02-31 over to March; a date that does not exist is a typo.
  const day = original.slice(0, 10);
  return new Date(Date.parse(`${day}T00:00:00Z`)).toISOString().startsWith(day) ? ms : undefined;
}

export const TIME_BOUND_HELP =
  'a date (2026-11-22), a UTC date and time (2026-11-22T10:00) or a time ago (90m, 24h, 7d)';
