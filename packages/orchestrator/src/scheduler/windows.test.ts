import { describe, expect, test } from 'vitest';
import { describeWindow, isInsideWindows, parseClockTime, type TimeWindow, windowAt } from './windows.js';

const weekdays = ['mon', 'tue', 'wed', 'thu', 'fri'] as const;
const businessHours: TimeWindow = { days: weekdays, from: '10:00', to: '16:00' };
const fridayNight: TimeWindow = { days: ['fri'], from: '22:00', to: '02:00' };

/** How many minutes of [from, to) fall inside the windows. */
function minutesInside(windows: TimeWindow[], timeZone: string, from: string, to: string): number {
  let inside = 0;
  for (let at = Date.parse(from); at < Date.parse(to); at += 60_000) {
    if (isInsideWindows(windows, timeZone, new Date(at))) inside += 1;
  }
  return inside;
}

describe('windows', () => {
  test('clock times run from 00:00 to 24:00', () => {
    expect(parseClockTime('00:00')).toBe(0);
    expect(parseClockTime('10:30')).toBe(630);
    expect(parseClockTime('24:00')).toBe(1440);
    expect(parseClockTime('24:01')).toBeUndefined();
    expect(parseClockTime('9:00')).toBeUndefined();
  });

  test('Mon-Fri 10:00-16:00 in Europe/Berlin: from is inclusive, to exclusive, weekends out', () => {
    const inside = (utc: string) => isInsideWindows([businessHours], 'Europe/Berlin', new Date(utc));
    // Wednesday 2026-03-25, CET (UTC+1).
    expect(inside('2026-03-25T08:59:59Z')).toBe(false);
    expect(inside('2026-03-25T09:00:00Z')).toBe(true);
    expect(inside('2026-03-25T14:59:59Z')).toBe(true);
    expect(inside('2026-03-25T15:00:00Z')).toBe(false);
    // Saturday.
    expect(inside('2026-03-28T11:00:00Z')).toBe(false);
    // Monday 2026-03-30, CEST (UTC+2): 10:00 local is 08:00 UTC now.
    expect(inside('2026-03-30T08:00:00Z')).toBe(true);
    expect(inside('2026-03-30T14:00:00Z')).toBe(false);
  });

  test('no windows means any time; an instant inside no window is outside', () => {
    expect(isInsideWindows(undefined, 'UTC', new Date('2026-03-28T03:00:00Z'))).toBe(true);
    expect(windowAt([businessHours], 'UTC', new Date('2026-03-28T03:00:00Z'))).toBeUndefined();
  });

  test('a window across midnight belongs to the day it starts on', () => {
    const inside = (utc: string) => isInsideWindows([fridayNight], 'UTC', new Date(utc));
    // Friday 2026-03-27 22:00 to Saturday 02:00.
    expect(inside('2026-03-27T21:59:00Z')).toBe(false);
    expect(inside('2026-03-27T22:00:00Z')).toBe(true);
    expect(inside('2026-03-27T23:59:59Z')).toBe(true);
    expect(inside('2026-03-28T01:00:00Z')).toBe(true);
    expect(inside('2026-03-28T01:59:59Z')).toBe(true);
    expect(inside('2026-03-28T02:00:00Z')).toBe(false);
    expect(inside('2026-03-28T03:00:00Z')).toBe(false);
    // The early hours of Friday belong to Thursday's night, which is not listed.
    expect(inside('2026-03-27T01:00:00Z')).toBe(false);
    // A Saturday night window does not reach back into Saturday morning.
    const saturdayNight: TimeWindow = { days: ['sat'], from: '22:00', to: '02:00' };
    expect(isInsideWindows([saturdayNight], 'UTC', new Date('2026-03-28T01:00:00Z'))).toBe(false);
    expect(isInsideWindows([saturdayNight], 'UTC', new Date('2026-03-29T01:00:00Z'))).toBe(true);
  });

  test('a window across midnight on Sunday ends on Monday', () => {
    const sundayNight: TimeWindow = { days: ['sun'], from: '23:00', to: '01:00' };
    expect(isInsideWindows([sundayNight], 'UTC', new Date('2026-03-30T00:30:00Z'))).toBe(true);
  });

  test('a window reaching 24:00 holds the last minute of the day', () => {
    const evening: TimeWindow = { days: ['fri'], from: '20:00', to: '24:00' };
    expect(isInsideWindows([evening], 'UTC', new Date('2026-03-27T23:59:59Z'))).toBe(true);
    expect(isInsideWindows([evening], 'UTC', new Date('2026-03-28T00:00:00Z'))).toBe(false);
  });

  test('on the fall-back day a 01:00-03:00 window holds the repeated hour twice: three real hours', () => {
    const night: TimeWindow = { days: ['sun'], from: '01:00', to: '03:00' };
    const inside = (utc: string) => isInsideWindows([night], 'Europe/Berlin', new Date(utc));
    // 2026-10-25: 03:00 CEST becomes 02:00 CET at 01:00 UTC.
    expect(inside('2026-10-24T22:59:59Z')).toBe(false); // 00:59:59 CEST
    expect(inside('2026-10-24T23:00:00Z')).toBe(true); // 01:00 CEST
    expect(inside('2026-10-25T00:30:00Z')).toBe(true); // 02:30 CEST, first pass
    expect(inside('2026-10-25T01:30:00Z')).toBe(true); // 02:30 CET, second pass
    expect(inside('2026-10-25T02:00:00Z')).toBe(false); // 03:00 CET
    expect(minutesInside([night], 'Europe/Berlin', '2026-10-24T12:00:00Z', '2026-10-25T12:00:00Z')).toBe(180);
  });

  test('on the spring-forward day a window loses the hour that never happens', () => {
    const night: TimeWindow = { days: ['sun'], from: '01:00', to: '03:00' };
    // 2026-03-29: 02:00 CET becomes 03:00 CEST at 01:00 UTC.
    expect(minutesInside([night], 'Europe/Berlin', '2026-03-28T12:00:00Z', '2026-03-29T12:00:00Z')).toBe(60);
    const gap: TimeWindow = { days: ['sun'], from: '02:00', to: '03:00' };
    expect(minutesInside([gap], 'Europe/Berlin', '2026-03-28T12:00:00Z', '2026-03-29T12:00:00Z')).toBe(0);
    // America/New_York, 2026-03-08: 02:00 EST becomes 03:00 EDT at 07:00 UTC.
    expect(minutesInside([night], 'America/New_York', '2026-03-08T00:00:00Z', '2026-03-08T12:00:00Z')).toBe(
      60,
    );
  });

  test('the first window that holds the instant is returned and described', () => {
    const found = windowAt([businessHours, fridayNight], 'UTC', new Date('2026-03-27T23:00:00Z'));
    expect(found).toBe(fridayNight);
    expect(describeWindow(businessHours)).toBe('mon,tue,wed,thu,fri 10:00-16:00');
    expect(
      describeWindow({ days: ['mon', 'tue', 'wed', 'thu', 'fri', 'sat', 'sun'], from: '00:00', to: '24:00' }),
    ).toBe('every day 00:00-24:00');
  });
});
