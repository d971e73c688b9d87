import { describe, expect, test } from 'vitest';
import { drawInterval } from './mtbk.js';
import { describeFireTime, nextAllowedFire, nextFireAfter, upcomingFires } from './next-fire.js';
import { cronPlan } from './plan.fixtures.js';
import type { SchedulePlan } from './plan.js';

/** The next `count` fires after `after`, in UTC. */
function fires(plan: SchedulePlan, after: string, count: number): string[] {
  const times: string[] = [];
  let at = new Date(after);
  for (let index = 0; index < count; index += 1) {
    at = nextFireAfter(plan, at);
    times.push(at.toISOString());
  }
  return times;
}

describe('next fire', () => {
  test('cron reads the schedule’s time zone and is shown in it and in UTC', () => {
    const plan = cronPlan('*/30 10-16 * * 1-5', 'Europe/Berlin');
    // Friday 16:45 CET: the next fire is Monday 10:00, after the change to CEST.
    const next = nextFireAfter(plan, new Date('2026-03-27T15:45:00Z'));
    expect(describeFireTime(next, 'Europe/Berlin')).toEqual({
      utc: '2026-03-30T08:00:00.000Z',
      local: '2026-03-30T10:00:00+02:00',
      timeZone: 'Europe/Berlin',
    });
    expect(fires(cronPlan('0 9 * * *', 'America/New_York'), '2026-03-07T00:00:00Z', 2)).toEqual([
      '2026-03-07T14:00:00.000Z',
      '2026-03-08T13:00:00.000Z',
    ]);
  });

  test('a daily 02:30 on the spring-forward day fires once, at 03:30, when the clock has moved on', () => {
    expect(fires(cronPlan('30 2 * * *', 'Europe/Berlin'), '2026-03-28T12:00:00Z', 3)).toEqual([
      '2026-03-29T01:30:00.000Z', // 03:30 CEST
      '2026-03-30T00:30:00.000Z', // 02:30 CEST
      '2026-03-31T00:30:00.000Z',
    ]);
    expect(fires(cronPlan('30 2 * * *', 'America/New_York'), '2026-03-07T12:00:00Z', 3)).toEqual([
      '2026-03-08T07:30:00.000Z', // 03:30 EDT
      '2026-03-09T06:30:00.000Z', // 02:30 EDT
      '2026-03-10T06:30:00.000Z',
    ]);
  });

  test('a daily 02:30 on the fall-back day fires once, on the first pass', () => {
    expect(fires(cronPlan('30 2 * * *', 'Europe/Berlin'), '2026-10-24T12:00:00Z', 2)).toEqual([
      '2026-10-25T00:30:00.000Z', // 02:30 CEST
      '2026-10-26T01:30:00.000Z', // 02:30 CET
    ]);
    // Asking between the two passes does not bring the second one back.
    expect(fires(cronPlan('30 2 * * *', 'Europe/Berlin'), '2026-10-25T00:45:00Z', 1)).toEqual([
      '2026-10-26T01:30:00.000Z',
    ]);
    expect(fires(cronPlan('30 1 * * *', 'America/New_York'), '2026-10-31T12:00:00Z', 2)).toEqual([
      '2026-11-01T05:30:00.000Z', // 01:30 EDT
      '2026-11-02T06:30:00.000Z', // 01:30 EST
    ]);
  });

  test('an hourly cron fires every real hour through both DST changes', () => {
    expect(fires(cronPlan('30 * * * *', 'Europe/Berlin'), '2026-10-24T23:00:00Z', 4)).toEqual([
      '2026-10-24T23:30:00.000Z', // 01:30 CEST
      '2026-10-25T00:30:00.000Z', // 02:30 CEST
      '2026-10-25T01:30:00.000Z', // 02:30 CET
      '2026-10-25T02:30:00.000Z', // 03:30 CET
    ]);
    expect(fires(cronPlan('30 * * * *', 'Europe/Berlin'), '2026-03-29T00:00:00Z', 3)).toEqual([
      '2026-03-29T00:30:00.000Z', // 01:30 CET
      '2026-03-29T01:30:00.000Z', // 03:30 CEST
      '2026-03-29T02:30:00.000Z',
    ]);
  });

  test('a random trigger fires one drawn gap after the previous fire', () => {
    const interval = { meanMs: 3_600_000, jitterMs: 600_000 };
    const plan = cronPlan('unused', 'UTC', { trigger: { kind: 'random', interval } });
    const previous = new Date('2026-03-25T09:00:00Z');
    expect(nextFireAfter(plan, previous).getTime()).toBe(
      previous.getTime() + drawInterval(interval, 'web-kill', previous.getTime()),
    );
  });

  test('upcoming fires say which ones windows and blackouts will skip', () => {
    const plan = cronPlan('0 * * * *', 'Europe/Berlin', {
      windows: [{ days: ['mon', 'tue', 'wed', 'thu', 'fri'], from: '10:00', to: '16:00' }],
      blackouts: ['2026-03-31'],
    });
    expect(upcomingFires(plan, new Date('2026-03-27T13:30:00Z'), 2)).toEqual([
      { at: describeFireTime(new Date('2026-03-27T14:00:00Z'), 'Europe/Berlin') },
      {
        at: describeFireTime(new Date('2026-03-27T15:00:00Z'), 'Europe/Berlin'),
        skip: {
          reason: 'outside-window',
          detail:
            '2026-03-27T16:00:00+01:00 (Europe/Berlin) is outside the windows (mon,tue,wed,thu,fri 10:00-16:00)',
        },
      },
    ]);
    expect(nextAllowedFire(plan, new Date('2026-03-27T15:00:00Z'))).toEqual(new Date('2026-03-30T08:00:00Z'));
    // Tuesday 2026-03-31 is blacked out: after Monday's last fire comes Wednesday's first.
    expect(nextAllowedFire(plan, new Date('2026-03-30T13:00:00Z'))).toEqual(new Date('2026-04-01T08:00:00Z'));
  });

  test('a cron that never fires inside the windows has no allowed fire', () => {
    const plan = cronPlan('0 3 * * *', 'UTC', {
      windows: [{ days: ['mon'], from: '10:00', to: '16:00' }],
    });
    expect(nextAllowedFire(plan, new Date('2026-03-27T00:00:00Z'))).toBeUndefined();
  });
});
