/** Day names as schedules spell them, Monday first. */
export const dayNames = ['mon', 'tue', 'wed', 'thu', 'fri', 'sat', 'sun'] as const;
export type DayName = (typeof dayNames)[number];

/** What a wall clock in some time zone shows at an instant. */
export interface WallClock {
  year: number;
  month: number;
  day: number;
  hour: number;
  minute: number;
  second: number;
  weekday: DayName;
  /** Minutes east of UTC in force at that instant (Europe/Berlin in summer: 120). */
  offsetMinutes: number;
}

const WEEKDAYS: Record<string, DayName> = {
  Mon: 'mon',
  Tue: 'tue',
  Wed: 'wed',
  Thu: 'thu',
  Fri: 'fri',
  Sat: 'sat',
  Sun: 'sun',
};

const formatters = new Map<string, Intl.DateTimeFormat>();

function formatterFor(timeZone: string): Intl.DateTimeFormat {
  let formatter = formatters.get(timeZone);
  if (formatter === undefined) {
    formatter = new Intl.DateTimeFormat('en-US', {
      timeZone,
      year: 'numeric',
      month: 'numeric',
      day: 'numeric',
      hour: 'numeric',
      minute: 'numeric',
      second: 'numeric',
      weekday: 'short',
      // h23, not hour12: false, which prints midnight as 24 on some ICU versions.
      hourCycle: 'h23',
    });
    formatters.set(timeZone, formatter);
  }
  return formatter;
}

/** True for a time zone name the runtime knows (IANA names such as Europe/Berlin, and UTC). */
export function isTimeZone(name: string): boolean {
  // Intl also takes offsets such as +01:00 on newer runtimes; a schedule wants a zone with rules.
  if (!/^[A-Za-z][A-Za-z0-9_+-]*(\/[A-Za-z0-9_+-]+)*$/.test(name)) return false;
  try {
    formatterFor(name);
    return true;
  } catch {
    return false;
  }
}

/** The wall clock of `timeZone` at `at`. */
export function wallClockAt(at: Date, timeZone: string): WallClock {
  const parts: Record<string, string> = {};
  for (const part of formatterFor(timeZone).formatToParts(at)) parts[part.type] = part.value;
  const clock = {
    year: Number(parts.year),
    month: Number(parts.month),
    day: Number(parts.day),
    hour: Number(parts.hour),
    minute: Number(parts.minute),
    second: Number(parts.second),
  };
  const weekday = WEEKDAYS[parts.weekday ?? ''];
  if (weekday === undefined) throw new Error(`unexpected weekday ${String(parts.weekday)} for ${timeZone}`);
  const asUtc = Date.UTC(clock.year, clock.month - 1, clock.day, clock.hour, clock.minute, clock.second);
  const offsetMinutes = Math.round((asUtc - Math.floor(at.getTime() / 1_000) * 1_000) / 60_000);
  return { ...clock, weekday, offsetMinutes };
}

function pad(value: number, width = 2): string {
  return String(value).padStart(width, '0');
}

/** `YYYY-MM-DD` of a wall clock. */
export function localDate(clock: WallClock): string {
  return `${pad(clock.year, 4)}-${pad(clock.month)}-${pad(clock.day)}`;
}

/** `YYYY-MM-DDTHH:MM:SS` of a wall clock: sorts like the wall clock does. */
export function localDateTime(clock: WallClock): string {
  return `${localDate(clock)}T${pad(clock.hour)}:${pad(clock.minute)}:${pad(clock.second)}`;
}

/** ISO 8601 with the zone's offset in force at `at`, e.g. `2026-03-29T03:30:00+02:00`. */
export function formatInTimeZone(at: Date, timeZone: string): string {
  const clock = wallClockAt(at, timeZone);
  const sign = clock.offsetMinutes < 0 ? '-' : '+';
  const offset = Math.abs(clock.offsetMinutes);
  return `${localDateTime(clock)}${sign}${pad(Math.floor(offset / 60))}:${pad(offset % 60)}`;
}
