import { formatDuration } from '@simian/protocol';
import { calendarSkip } from './calendar.js';
import { fireSequence, nextFireAfter } from './next-fire.js';
import type { SchedulePlan } from './plan.js';

/** No missed fire is replayed later than this after it was due. */
export const MAX_MISSED_RUN_GRACE_MS = 10 * 60_000;
/** Missed fires counted one by one; past this the count is a lower bound. */
export const MISSED_FIRES_COUNT_LIMIT = 1_000;

export interface MissedRunInput {
  /** The last fire the scheduler handled (ran or skipped), persisted across restarts; undefined when it never fired. */
  lastFire: Date | undefined;
  now: Date;
}

export type MissedRunPlan =
  | { action: 'none'; nextFire: Date }
  | {
      /** Start the run of `fire` now (still subject to decideRun: busy targets, opt-in). */
      action: 'replay';
      fire: Date;
      /** Fires missed in all, `fire` included; the others are skipped. */
      missed: number;
      nextFire: Date;
    }
  | {
      action: 'skip';
      reason: 'missed';
      detail: string;
      /** At least this many. */
      missed: number;
      firstMissed: Date;
      /**
       * The instant `nextFire` is counted from: the latest missed fire, or, after an outage too long
       * to walk, where the fresh sequence starts. Keep it as the last fire handled.
       */
      countFrom: Date;
      nextFire: Date;
    };

/**
 * What to do about fires that came due while the orchestrator was down. Never more than one is
 * replayed, and only the latest, when it is less than its grace old (the gap to the fire after
 * it, at most {@link MAX_MISSED_RUN_GRACE_MS}) and the calendar lets a run start both at its fire
 * time and now. Every other missed fire is skipped with reason `missed`. Chaos that lands
 * hours late, or in a burst after an outage, is not what the schedule promised.
 */
export function planMissedRuns(plan: SchedulePlan, input: MissedRunInput): MissedRunPlan {
  const { lastFire, now } = input;
  if (lastFire === undefined) return { action: 'none', nextFire: nextFireAfter(plan, now) };
  const next = fireSequence(plan, lastFire);
  const firstMissed = next();
  if (firstMissed > now) return { action: 'none', nextFire: firstMissed };

  let latest = firstMissed;
  let following = next();
  let missed = 1;
  while (following <= now && missed < MISSED_FIRES_COUNT_LIMIT) {
    latest = following;
    following = next();
    missed += 1;
  }
  const capped = following <= now;
  const count = `${capped ? 'at least ' : ''}${missed} ${missed === 1 ? 'fire' : 'fires'}`;
  const skip = (why: string): MissedRunPlan => ({
    action: 'skip',
    reason: 'missed',
    detail: `${count} came due while the orchestrator was down (since ${firstMissed.toISOString()}); ${why}`,
    missed,
    firstMissed,
    countFrom: latest,
    nextFire: following,
  });
  if (capped) {
    // Too many to walk one by one; only a fire within the longest grace could be replayed.
    const recentFrom = new Date(now.getTime() - MAX_MISSED_RUN_GRACE_MS - 1);
    const recent = fireSequence(plan, recentFrom);
    following = recent();
    if (following > now) {
      latest = recentFrom;
      return skip('none was recent enough to replay');
    }
    while (following <= now) {
      latest = following;
      following = recent();
    }
  }
  const grace = Math.min(following.getTime() - latest.getTime(), MAX_MISSED_RUN_GRACE_MS);
  const late = now.getTime() - latest.getTime();
  if (late > grace) {
    return skip(
      `the latest, ${latest.toISOString()}, is ${formatDuration(late)} late, past its grace of ${formatDuration(grace)}`,
    );
  }
  const calendar = calendarSkip(plan, latest) ?? calendarSkip(plan, now);
  if (calendar !== undefined)
    return skip(`the latest, ${latest.toISOString()}, is not replayed: ${calendar.detail}`);
  return { action: 'replay', fire: latest, missed, nextFire: following };
}
