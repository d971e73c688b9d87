import type { SchedulePlan } from './plan.js';

/** The plan of a cron schedule, for the scheduler's unit tests, which state only what they vary. */
export function cronPlan(
  expression: string,
  timeZone = 'UTC',
  overrides: Partial<SchedulePlan> = {},
): SchedulePlan {
  return {
    experiment: 'web-kill',
    timeZone,
    trigger: { kind: 'cron', expression },
    windows: undefined,
    blackouts: [],
    optIn: { key: 'simian.dev/chaos', value: 'enabled' },
    targetGroup: 'docker:app=web',
    seed: 'web-kill',
    ...overrides,
  };
}
