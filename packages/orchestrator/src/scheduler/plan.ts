import { type DriverName, durationMs, type Selector } from '@simian/protocol';
import type { Experiment } from '../experiments/schema.js';
import type { Blackout } from './blackouts.js';
import type { RandomInterval } from './mtbk.js';
import type { TimeWindow } from './windows.js';

/** What makes a schedule fire: fixed cron times, or random gaps (Chaos Monkey's MTBK). */
export type Trigger = { kind: 'cron'; expression: string } | { kind: 'random'; interval: RandomInterval };

/** An experiment's `spec.schedule` with its defaults resolved, ready for the scheduler's pure functions. */
export interface SchedulePlan {
  /** `metadata.name` of the experiment. */
  experiment: string;
  timeZone: string;
  trigger: Trigger;
  /** Undefined: any time is inside. */
  windows: readonly TimeWindow[] | undefined;
  blackouts: readonly Blackout[];
  optIn: { key: string; value: string };
  /** Runs with the same group never overlap. */
  targetGroup: string;
  /** Seeds the random gaps; the experiment's name, so every orchestrator computes the same times. */
  seed: string;
}

/**
 * The default target group: the driver and the selector, written canonically so that two
 * experiments aiming at the same selector share a group (`docker:app=web@zone-a`).
 */
export function targetGroupOf(driver: DriverName, selector: Selector): string {
  const labels = Object.entries(selector.labels)
    .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))
    .map(([key, value]) => `${key}=${value}`);
  const namespace = selector.namespace === undefined ? '' : `${selector.namespace}/`;
  const zone = selector.zone === undefined ? '' : `@${selector.zone}`;
  return `${driver}:${namespace}${labels.length === 0 ? '*' : labels.join(',')}${zone}`;
}

function splitLabel(label: string): { key: string; value: string } {
  const separator = label.indexOf('=');
  return { key: label.slice(0, separator), value: label.slice(separator + 1) };
}

/** The experiment's schedule as a plan, or undefined when it has none. */
export function planSchedule(experiment: Experiment): SchedulePlan | undefined {
  const { schedule, target } = experiment.spec;
  if (schedule === undefined) return undefined;
  let trigger: Trigger;
  if (schedule.cron !== undefined) {
    trigger = { kind: 'cron', expression: schedule.cron };
  } else if (schedule.meanTimeBetween !== undefined) {
    const meanMs = durationMs(schedule.meanTimeBetween);
    const jitterMs = schedule.jitter === undefined ? Math.floor(meanMs / 2) : durationMs(schedule.jitter);
    trigger = { kind: 'random', interval: { meanMs, jitterMs } };
  } else {
    throw new Error(`schedule of ${experiment.metadata.name} has neither cron nor meanTimeBetween`);
  }
  return {
    experiment: experiment.metadata.name,
    timeZone: schedule.timezone,
    trigger,
    windows: schedule.windows,
    blackouts: schedule.blackouts,
    optIn: splitLabel(schedule.optInLabel),
    targetGroup: schedule.targetGroup ?? targetGroupOf(target.driver, target.selector),
    seed: experiment.metadata.name,
  };
}

/** True when a target's labels carry the plan's opt-in label. */
export function isOptedIn(plan: SchedulePlan, labels: Readonly<Record<string, string>>): boolean {
  return labels[plan.optIn.key] === plan.optIn.value;
}

/**
 * The selector a scheduled run resolves targets with: the experiment's, plus the opt-in label,
 * so target resolution itself (not only this module) never offers a target that did not opt in.
 */
export function scheduledSelector(plan: SchedulePlan, selector: Selector): Selector {
  return { ...selector, labels: { ...selector.labels, [plan.optIn.key]: plan.optIn.value } };
}
