import { blackoutAt, describeBlackout } from './blackouts.js';
import type { SchedulePlan } from './plan.js';
import { formatInTimeZone } from './wall-clock.js';
import { describeWindow, isInsideWindows } from './windows.js';

/** Why the calendar alone (windows and blackouts) keeps a run from starting at some instant. */
export interface CalendarSkip {
  reason: 'blackout' | 'outside-window';
  detail: string;
}

/**
 * Whether the calendar lets a run start at `at`. A blackout is reported before the windows: it is
 * the exception an operator declared, while being outside the windows is the everyday case.
 */
export function calendarSkip(plan: SchedulePlan, at: Date): CalendarSkip | undefined {
  const local = `${formatInTimeZone(at, plan.timeZone)} (${plan.timeZone})`;
  const blackout = blackoutAt(plan.blackouts, plan.timeZone, at);
  if (blackout !== undefined) {
    return { reason: 'blackout', detail: `${local} is in blackout ${describeBlackout(blackout)}` };
  }
  if (!isInsideWindows(plan.windows, plan.timeZone, at)) {
    const windows = (plan.windows ?? []).map(describeWindow).join('; ');
    return { reason: 'outside-window', detail: `${local} is outside the windows (${windows})` };
  }
  return undefined;
}

/** True when neither a blackout nor the windows keep a run from starting at `at`. */
export function isAllowedAt(plan: SchedulePlan, at: Date): boolean {
  return (
    blackoutAt(plan.blackouts, plan.timeZone, at) === undefined &&
    isInsideWindows(plan.windows, plan.timeZone, at)
  );
}
