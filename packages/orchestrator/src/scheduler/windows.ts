import { type DayName, dayNames, wallClockAt } from './wall-clock.js';

/** A weekly window in which scheduled runs may start, in the schedule's time zone. */
export interface TimeWindow {
  days: readonly DayName[];
  /** `HH:MM`, inclusive. */
  from: string;
  /** `HH:MM` (up to `24:00`), exclusive. Earlier than `from`: the window ends on the next day. */
  to: string;
}

const CLOCK_TIME = /^(?:([01]\d|2[0-3]):([0-5]\d)|(24):(00))$/;

/** Minutes after midnight of `HH:MM` (`24:00` is 1440), or undefined when it is not a time. */
export function parseClockTime(text: string): number | undefined {
  const match = CLOCK_TIME.exec(text);
  if (!match) return undefined;
  const hour = match[1] ?? match[3];
  const minute = match[2] ?? match[4];
  return Number(hour) * 60 + Number(minute);
}

function minutesOf(text: string): number {
  const minutes = parseClockTime(text);
  if (minutes === undefined) throw new Error(`not a clock time: ${JSON.stringify(text)}`);
  return minutes;
}

function dayBefore(day: DayName): DayName {
  const index = dayNames.indexOf(day);
  return dayNames[(index + dayNames.length - 1) % dayNames.length] ?? day;
}

/**
 * The window that holds `at`, judged on the wall clock of `timeZone`. A window that crosses
 * midnight belongs to the day it starts on: `fri 22:00-02:00` holds Saturday 01:00. Because the
 * wall clock decides, a window in a spring-forward gap is shorter by the hour that never happens,
 * and one across a fall-back overlap holds the repeated hour twice.
 */
export function windowAt(windows: readonly TimeWindow[], timeZone: string, at: Date): TimeWindow | undefined {
  const clock = wallClockAt(at, timeZone);
  const minute = clock.hour * 60 + clock.minute + clock.second / 60;
  const yesterday = dayBefore(clock.weekday);
  return windows.find((window) => {
    const from = minutesOf(window.from);
    const to = minutesOf(window.to);
    if (from < to) return window.days.includes(clock.weekday) && minute >= from && minute < to;
    return (
      (window.days.includes(clock.weekday) && minute >= from) ||
      (window.days.includes(yesterday) && minute < to)
    );
  });
}

/** True when `at` is inside one of `windows`; no windows at all means any time. */
export function isInsideWindows(
  windows: readonly TimeWindow[] | undefined,
  timeZone: string,
  at: Date,
): boolean {
  return windows === undefined || windowAt(windows, timeZone, at) !== undefined;
}

/** `mon,tue,wed 10:00-16:00`, as messages and listings show a window. */
export function describeWindow(window: TimeWindow): string {
  const days = window.days.length === dayNames.length ? 'every day' : window.days.join(',');
  return `${days} ${window.from}-${window.to}`;
}
