import { isProtected } from '@simian/protocol';
import { calendarSkip } from './calendar.js';
import type { Clock } from './clock.js';
import { describeFireTime, type FireTime, nextFireAfter } from './next-fire.js';
import { isOptedIn, type SchedulePlan } from './plan.js';

/** Why a scheduled fire did not start a run. */
export type SkipReason =
  | 'blackout'
  | 'outside-window'
  | 'target-busy'
  | 'no-targets'
  | 'not-opted-in'
  /** Fired while the orchestrator was down (see planMissedRuns). */
  | 'missed';

/** What the scheduler needs to know about a target matching the experiment's selector. */
export interface Candidate {
  id: string;
  labels: Readonly<Record<string, string>>;
}

export interface DecideInput<T extends Candidate> {
  clock: Clock;
  /** Target groups with a run in progress. */
  busyGroups: ReadonlySet<string>;
  /** Targets matching the experiment's selector, as the agents list them. */
  candidates: readonly T[];
  /** The fire being decided, which the next one is counted from. @default clock.now() */
  firedAt?: Date;
}

export type Decision<T extends Candidate> =
  | {
      run: true;
      at: FireTime;
      targetGroup: string;
      /** The opted-in, unprotected candidates: the only ones the run may choose from. */
      targets: T[];
      nextFire: FireTime;
    }
  | {
      run: false;
      reason: Exclude<SkipReason, 'missed'>;
      detail: string;
      at: FireTime;
      targetGroup: string;
      nextFire: FireTime;
    };

/**
 * Whether a fire starts a run now. Checked in this order, the first that holds is the reason:
 * blackout, outside-window, target-busy (another run of the same target group is in progress),
 * no-targets (nothing unprotected matches the selector), not-opted-in (nothing that matches
 * carries the opt-in label). Either way the answer carries the next fire.
 */
export function decideRun<T extends Candidate>(plan: SchedulePlan, input: DecideInput<T>): Decision<T> {
  const now = input.clock.now();
  const at = describeFireTime(now, plan.timeZone);
  const nextFire = describeFireTime(nextFireAfter(plan, input.firedAt ?? now), plan.timeZone);
  const base = { at, targetGroup: plan.targetGroup, nextFire };
  const calendar = calendarSkip(plan, now);
  if (calendar !== undefined) return { run: false, ...calendar, ...base };
  if (input.busyGroups.has(plan.targetGroup)) {
    return {
      run: false,
      reason: 'target-busy',
      detail: `target group ${plan.targetGroup} already has a run in progress`,
      ...base,
    };
  }
  const unprotected = input.candidates.filter((candidate) => !isProtected({ ...candidate.labels }));
  if (unprotected.length === 0) {
    return {
      run: false,
      reason: 'no-targets',
      detail: 'no target matches the selector (protected targets are left out)',
      ...base,
    };
  }
  const targets = unprotected.filter((candidate) => isOptedIn(plan, candidate.labels));
  if (targets.length === 0) {
    const label = `${plan.optIn.key}=${plan.optIn.value}`;
    const count = unprotected.length === 1 ? '1 target matches' : `${unprotected.length} targets match`;
    return {
      run: false,
      reason: 'not-opted-in',
      detail: `${count} the selector, but none carries the opt-in label ${label}`,
      ...base,
    };
  }
  return { run: true, ...base, targets };
}
