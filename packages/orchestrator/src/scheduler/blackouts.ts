import { localDate, localDateTime, wallClockAt } from './wall-clock.js';

/** A whole day (`YYYY-MM-DD`), or a range whose ends are days or wall-clock times (`YYYY-MM-DDTHH:MM`). */
export type Blackout = string | { from: string; to: string };

const DATE = /^(\d{4})-(\d{2})-(\d{2})$/;
const DATE_TIME = /^(\d{4}-\d{2}-\d{2})T([01]\d|2[0-3]):([0-5]\d)$/;

/** True for a real calendar day written `YYYY-MM-DD`. */
export function isLocalDate(text: string): boolean {
  const match = DATE.exec(text);
  if (!match) return false;
  const [year, month, day] = [Number(match[1]), Number(match[2]), Number(match[3])];
  const date = new Date(Date.UTC(year, month - 1, day));
  return date.getUTCFullYear() === year && date.getUTCMonth() === month - 1 && date.getUTCDate() === day;
}

/** True for `YYYY-MM-DDTHH:MM` on a real calendar day. */
export function isLocalDateTime(text: string): boolean {
  const match = DATE_TIME.exec(text);
  return match !== null && isLocalDate(match[1] ?? '');
}

/**
 * Where a range starts and ends as sortable wall-clock text. A day as `from` starts at its
 * midnight; a day as `to` includes that whole day; a time as `to` is exclusive.
 */
export function blackoutBounds(range: { from: string; to: string }): { start: string; end: string } {
  const start = isLocalDate(range.from) ? `${range.from}T00:00:00` : `${range.from}:00`;
  // T24 sorts after every time of that day.
  const end = isLocalDate(range.to) ? `${range.to}T24:00:00` : `${range.to}:00`;
  return { start, end };
}

/**
 * The blackout that holds `at`, judged on the wall clock of `timeZone` (so a blackout day is that
 * day in the schedule's zone, 23 or 25 hours long on DST changes).
 */
export function blackoutAt(blackouts: readonly Blackout[], timeZone: string, at: Date): Blackout | undefined {
  const clock = wallClockAt(at, timeZone);
  const day = localDate(clock);
  const now = localDateTime(clock);
  return blackouts.find((blackout) => {
    if (typeof blackout === 'string') return blackout === day;
    const { start, end } = blackoutBounds(blackout);
    return now >= start && now < end;
  });
}

/** `2026-12-24`, or `2026-12-20 to 2027-01-02`, as messages and listings show a blackout. */
export function describeBlackout(blackout: Blackout): string {
  return typeof blackout === 'string' ? blackout : `${blackout.from} to ${blackout.to}`;
}
