import { describe, expect, test } from 'vitest';
import { ManualClock } from './clock.js';
import { type Candidate, decideRun } from './decide.js';
import type { SchedulePlan } from './plan.js';

const plan: SchedulePlan = {
  experiment: 'web-kill',
  timeZone: 'Europe/Berlin',
  trigger: { kind: 'cron', expression: '*/30 10-16 * * 1-5' },
  windows: [{ days: ['mon', 'tue', 'wed', 'thu', 'fri'], from: '10:00', to: '16:00' }],
  blackouts: ['2026-12-24', { from: '2026-12-28', to: '2027-01-01' }],
  optIn: { key: 'simian.dev/chaos', value: 'enabled' },
  targetGroup: 'docker:app=web',
  seed: 'web-kill',
};

const optedIn: Candidate = { id: 'web-1', labels: { app: 'web', 'simian.dev/chaos': 'enabled' } };
const notOptedIn: Candidate = { id: 'web-2', labels: { app: 'web' } };
const optedOut: Candidate = { id: 'web-3', labels: { app: 'web', 'simian.dev/chaos': 'disabled' } };
const protectedOne: Candidate = {
  id: 'web-4',
  labels: { app: 'web', 'simian.dev/chaos': 'enabled', 'simian.dev/protected': 'true' },
};

function decideAt(utc: string, candidates: Candidate[], busy: string[] = []) {
  return decideRun(plan, { clock: new ManualClock(utc), busyGroups: new Set(busy), candidates });
}

describe('decideRun', () => {
  test('inside the window, with an opted-in target and a free group, it runs on opted-in targets only', () => {
    // Wednesday 2026-03-25 10:00 CET.
    expect(decideAt('2026-03-25T09:00:00Z', [optedIn, notOptedIn, optedOut, protectedOne])).toEqual({
      run: true,
      at: { utc: '2026-03-25T09:00:00.000Z', local: '2026-03-25T10:00:00+01:00', timeZone: 'Europe/Berlin' },
      targetGroup: 'docker:app=web',
      targets: [optedIn],
      nextFire: {
        utc: '2026-03-25T09:30:00.000Z',
        local: '2026-03-25T10:30:00+01:00',
        timeZone: 'Europe/Berlin',
      },
    });
  });

  test('outside-window: the cron fires at 16:30, the window closed at 16:00', () => {
    expect(decideAt('2026-03-25T15:30:00Z', [optedIn])).toEqual({
      run: false,
      reason: 'outside-window',
      detail:
        '2026-03-25T16:30:00+01:00 (Europe/Berlin) is outside the windows (mon,tue,wed,thu,fri 10:00-16:00)',
      at: { utc: '2026-03-25T15:30:00.000Z', local: '2026-03-25T16:30:00+01:00', timeZone: 'Europe/Berlin' },
      targetGroup: 'docker:app=web',
      nextFire: {
        utc: '2026-03-26T09:00:00.000Z',
        local: '2026-03-26T10:00:00+01:00',
        timeZone: 'Europe/Berlin',
      },
    });
  });

  test('blackout: a blackout day inside the window', () => {
    expect(decideAt('2026-12-24T09:00:00Z', [optedIn])).toMatchObject({
      run: false,
      reason: 'blackout',
      detail: '2026-12-24T10:00:00+01:00 (Europe/Berlin) is in blackout 2026-12-24',
    });
  });

  test('a blackout is reported before the window', () => {
    // Monday 2026-12-28 04:00 CET: outside the window and inside the blackout range.
    expect(decideAt('2026-12-28T03:00:00Z', [optedIn])).toMatchObject({
      run: false,
      reason: 'blackout',
      detail: '2026-12-28T04:00:00+01:00 (Europe/Berlin) is in blackout 2026-12-28 to 2027-01-01',
    });
  });

  test('target-busy: another run of the same target group is in progress', () => {
    expect(decideAt('2026-03-25T09:00:00Z', [optedIn], ['docker:app=web'])).toMatchObject({
      run: false,
      reason: 'target-busy',
      detail: 'target group docker:app=web already has a run in progress',
    });
    expect(decideAt('2026-03-25T09:00:00Z', [optedIn], ['docker:app=db'])).toMatchObject({ run: true });
  });

  test('not-opted-in: targets match the selector but none carries the opt-in label', () => {
    expect(decideAt('2026-03-25T09:00:00Z', [notOptedIn, optedOut])).toMatchObject({
      run: false,
      reason: 'not-opted-in',
      detail: '2 targets match the selector, but none carries the opt-in label simian.dev/chaos=enabled',
    });
    expect(decideAt('2026-03-25T09:00:00Z', [notOptedIn])).toMatchObject({
      reason: 'not-opted-in',
      detail: '1 target matches the selector, but none carries the opt-in label simian.dev/chaos=enabled',
    });
  });

  test('no-targets: nothing unprotected matches the selector', () => {
    for (const candidates of [[], [protectedOne]]) {
      expect(decideAt('2026-03-25T09:00:00Z', candidates)).toMatchObject({
        run: false,
        reason: 'no-targets',
        detail: 'no target matches the selector (protected targets are left out)',
      });
    }
  });

  test('the next fire counts from the fire being decided, and follows the clock', () => {
    const clock = new ManualClock('2026-03-25T09:00:00.250Z');
    const decide = () =>
      decideRun(plan, {
        clock,
        busyGroups: new Set(),
        candidates: [optedIn],
        firedAt: new Date('2026-03-25T09:00:00Z'),
      });
    expect(decide().nextFire.utc).toBe('2026-03-25T09:30:00.000Z');
    clock.advance(30 * 60_000);
    expect(decide().at.utc).toBe('2026-03-25T09:30:00.250Z');
  });
});
