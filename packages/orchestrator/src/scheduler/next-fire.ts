import { type CalendarSkip, calendarSkip, isAllowedAt } from './calendar.js';
import { cronFires, nextCronFire } from './cron.js';
import { drawInterval } from './mtbk.js';
import type { SchedulePlan } from './plan.js';
import { formatInTimeZone } from './wall-clock.js';

/** An instant as listings show it: in UTC and on the schedule's wall clock. */
export interface FireTime {
  /** `2026-03-29T01:30:00.000Z` */
  utc: string;
  /** `2026-03-29T03:30:00+02:00` */
  local: string;
  timeZone: string;
}

export function describeFireTime(at: Date, timeZone: string): FireTime {
  return { utc: at.toISOString(), local: formatInTimeZone(at, timeZone), timeZone };
}

/**
 * The first fire strictly after `after`. Cron times are read on the schedule's wall clock
 * (cron-parser): a time that a spring-forward skips fires when the clock has moved on (02:30
 * becomes 03:30), and one that a fall-back repeats fires once, on its first pass. A random
 * trigger fires one drawn gap after `after`, which should be the previous fire.
 */
export function nextFireAfter(plan: SchedulePlan, after: Date): Date {
  if (plan.trigger.kind === 'cron') return nextCronFire(plan.trigger.expression, plan.timeZone, after);
  return new Date(after.getTime() + drawInterval(plan.trigger.interval, plan.seed, after.getTime()));
}

/** Successive fires after `after`, each call the next one. */
export function fireSequence(plan: SchedulePlan, after: Date): () => Date {
  if (plan.trigger.kind === 'cron') return cronFires(plan.trigger.expression, plan.timeZone, after);
  let at = after;
  return () => {
    at = nextFireAfter(plan, at);
    return at;
  };
}

/** A fire to come, and whether windows or blackouts will skip it. */
export interface UpcomingFire {
  at: FireTime;
  /** Set when the calendar already rules the fire out; busy targets and opt-in are known only then. */
  skip?: CalendarSkip;
}

/** The next `count` fires after `after`, for `simian schedule`. */
export function upcomingFires(plan: SchedulePlan, after: Date, count: number): UpcomingFire[] {
  const fires: UpcomingFire[] = [];
  const next = fireSequence(plan, after);
  for (let index = 0; index < count; index += 1) {
    const at = next();
    const skip = calendarSkip(plan, at);
    fires.push(
      skip === undefined
        ? { at: describeFireTime(at, plan.timeZone) }
        : { at: describeFireTime(at, plan.timeZone), skip },
    );
  }
  return fires;
}

/** How many fires {@link nextAllowedFire} looks through before it gives up. */
export const ALLOWED_FIRE_SEARCH_LIMIT = 1_000;

/**
 * The first fire after `after` that windows and blackouts let through, or undefined when none
 * of the next {@link ALLOWED_FIRE_SEARCH_LIMIT} fires is (a cron that only fires outside the
 * windows, say).
 */
export function nextAllowedFire(plan: SchedulePlan, after: Date): Date | undefined {
  const next = fireSequence(plan, after);
  for (let index = 0; index < ALLOWED_FIRE_SEARCH_LIMIT; index += 1) {
    const at = next();
    if (isAllowedAt(plan, at)) return at;
  }
  return undefined;
}
