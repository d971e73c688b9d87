import { describe, expect, test } from 'vitest';
import { MAX_MISSED_RUN_GRACE_MS, planMissedRuns } from './missed-runs.js';
import { nextFireAfter } from './next-fire.js';
import { cronPlan } from './plan.fixtures.js';

const hourly = cronPlan('0 * * * *');
const at = (utc: string) => new Date(utc);

describe('planMissedRuns', () => {
  test('a scheduler that never fired has nothing to catch up on', () => {
    expect(planMissedRuns(hourly, { lastFire: undefined, now: at('2026-03-25T10:20:00Z') })).toEqual({
      action: 'none',
      nextFire: at('2026-03-25T11:00:00Z'),
    });
  });

  test('nothing came due since the last fire', () => {
    expect(
      planMissedRuns(hourly, { lastFire: at('2026-03-25T10:00:00Z'), now: at('2026-03-25T10:59:59Z') }),
    ).toEqual({ action: 'none', nextFire: at('2026-03-25T11:00:00Z') });
  });

  test('the one missed fire is replayed within its grace', () => {
    expect(
      planMissedRuns(hourly, { lastFire: at('2026-03-25T10:00:00Z'), now: at('2026-03-25T11:10:00Z') }),
    ).toEqual({
      action: 'replay',
      fire: at('2026-03-25T11:00:00Z'),
      missed: 1,
      nextFire: at('2026-03-25T12:00:00Z'),
    });
  });

  test('past the grace of 10 minutes it is skipped as missed', () => {
    expect(
      planMissedRuns(hourly, { lastFire: at('2026-03-25T10:00:00Z'), now: at('2026-03-25T11:10:01Z') }),
    ).toEqual({
      action: 'skip',
      reason: 'missed',
      detail:
        '1 fire came due while the orchestrator was down (since 2026-03-25T11:00:00.000Z); the latest, 2026-03-25T11:00:00.000Z, is 10.0m late, past its grace of 10m',
      missed: 1,
      firstMissed: at('2026-03-25T11:00:00Z'),
      countFrom: at('2026-03-25T11:00:00Z'),
      nextFire: at('2026-03-25T12:00:00Z'),
    });
  });

  test('of several missed fires only the latest is replayed, never a burst', () => {
    expect(
      planMissedRuns(hourly, { lastFire: at('2026-03-25T10:00:00Z'), now: at('2026-03-25T14:05:00Z') }),
    ).toEqual({
      action: 'replay',
      fire: at('2026-03-25T14:00:00Z'),
      missed: 4,
      nextFire: at('2026-03-25T15:00:00Z'),
    });
  });

  test('the grace is never longer than the gap between fires', () => {
    const everyFiveMinutes = cronPlan('*/5 * * * *');
    // 10:05 is late by 4m59s, within its 5m grace; nothing can be later than the gap, since then the next fire is due.
    expect(
      planMissedRuns(everyFiveMinutes, {
        lastFire: at('2026-03-25T10:00:00Z'),
        now: at('2026-03-25T10:09:59Z'),
      }),
    ).toMatchObject({
      action: 'replay',
      fire: at('2026-03-25T10:05:00Z'),
      nextFire: at('2026-03-25T10:10:00Z'),
    });
  });

  test('a missed fire is not replayed once its window has closed, nor if it was outside one', () => {
    const businessHours = cronPlan('0 * * * *', 'Europe/Berlin', {
      windows: [{ days: ['mon', 'tue', 'wed', 'thu', 'fri'], from: '10:00', to: '16:00' }],
    });
    // Wednesday 2026-03-25: 15:00 CET was missed, it is 15:05 now: still inside.
    expect(
      planMissedRuns(businessHours, {
        lastFire: at('2026-03-25T13:00:00Z'),
        now: at('2026-03-25T14:05:00Z'),
      }),
    ).toMatchObject({ action: 'replay', fire: at('2026-03-25T14:00:00Z') });
    // 15:55 CET was missed (by a schedule firing at :55), it is 16:01 now: within grace, but the window has closed.
    const fiveToTheHour = { ...businessHours, trigger: { kind: 'cron', expression: '55 * * * *' } as const };
    expect(
      planMissedRuns(fiveToTheHour, {
        lastFire: at('2026-03-25T13:55:00Z'),
        now: at('2026-03-25T15:01:00Z'),
      }),
    ).toMatchObject({
      action: 'skip',
      reason: 'missed',
      detail:
        '1 fire came due while the orchestrator was down (since 2026-03-25T14:55:00.000Z); the latest, 2026-03-25T14:55:00.000Z, is not replayed: 2026-03-25T16:01:00+01:00 (Europe/Berlin) is outside the windows (mon,tue,wed,thu,fri 10:00-16:00)',
    });
    // 16:00 CET was missed: it was outside the window itself.
    expect(
      planMissedRuns(businessHours, {
        lastFire: at('2026-03-25T14:00:00Z'),
        now: at('2026-03-25T15:02:00Z'),
      }),
    ).toMatchObject({ action: 'skip', reason: 'missed', nextFire: at('2026-03-25T16:00:00Z') });
  });

  test('a long outage is counted up to a limit, and a recent fire may still be replayed', () => {
    const everyMinute = cronPlan('* * * * *');
    expect(
      planMissedRuns(everyMinute, { lastFire: at('2026-03-01T00:00:00Z'), now: at('2026-03-02T00:00:30Z') }),
    ).toEqual({
      action: 'replay',
      fire: at('2026-03-02T00:00:00Z'),
      missed: 1_000,
      nextFire: at('2026-03-02T00:01:00Z'),
    });
    const halfHourly = cronPlan('*/30 * * * *');
    expect(
      planMissedRuns(halfHourly, { lastFire: at('2026-01-01T00:00:00Z'), now: at('2026-03-01T00:20:00Z') }),
    ).toEqual({
      action: 'skip',
      reason: 'missed',
      detail:
        'at least 1000 fires came due while the orchestrator was down (since 2026-01-01T00:30:00.000Z); none was recent enough to replay',
      missed: 1_000,
      firstMissed: at('2026-01-01T00:30:00Z'),
      // The fresh sequence starts just past the longest grace before now.
      countFrom: at('2026-03-01T00:09:59.999Z'),
      nextFire: at('2026-03-01T00:30:00Z'),
    });
  });

  test('random fires follow the same chain after a restart', () => {
    const random = cronPlan('unused', 'UTC', {
      trigger: { kind: 'random', interval: { meanMs: 3_600_000, jitterMs: 1_800_000 } },
    });
    const lastFire = at('2026-03-25T09:00:00Z');
    const chain = [nextFireAfter(random, lastFire)];
    for (let index = 0; index < 5; index += 1) chain.push(nextFireAfter(random, chain.at(-1) ?? lastFire));
    const [, , , , latest, following] = chain;
    if (latest === undefined || following === undefined) throw new Error('chain too short');
    const now = new Date(latest.getTime() + 60_000);
    expect(planMissedRuns(random, { lastFire, now })).toEqual({
      action: 'replay',
      fire: latest,
      missed: 5,
      nextFire: following,
    });
    const tooLate = new Date(latest.getTime() + MAX_MISSED_RUN_GRACE_MS + 1);
    expect(tooLate < following).toBe(true);
    expect(planMissedRuns(random, { lastFire, now: tooLate })).toMatchObject({
      action: 'skip',
      missed: 5,
      countFrom: latest,
      nextFire: following,
    });
  });
});
