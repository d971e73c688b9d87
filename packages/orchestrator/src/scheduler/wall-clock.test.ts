import { describe, expect, test } from 'vitest';
import { formatInTimeZone, isTimeZone, wallClockAt } from './wall-clock.js';

describe('wall clock', () => {
  test('IANA names are time zones; typos and offsets are not', () => {
    expect(isTimeZone('Europe/Berlin')).toBe(true);
    expect(isTimeZone('America/New_York')).toBe(true);
    expect(isTimeZone('UTC')).toBe(true);
    expect(isTimeZone('Europe/Berln')).toBe(false);
    expect(isTimeZone('+01:00')).toBe(false);
    expect(isTimeZone('')).toBe(false);
  });

  test('reads the wall clock and the offset in force, on both sides of a DST change', () => {
    expect(wallClockAt(new Date('2026-03-29T00:59:00Z'), 'Europe/Berlin')).toEqual({
      year: 2026,
      month: 3,
      day: 29,
      hour: 1,
      minute: 59,
      second: 0,
      weekday: 'sun',
      offsetMinutes: 60,
    });
    expect(formatInTimeZone(new Date('2026-03-29T01:00:00Z'), 'Europe/Berlin')).toBe(
      '2026-03-29T03:00:00+02:00',
    );
    expect(formatInTimeZone(new Date('2026-11-01T05:30:00Z'), 'America/New_York')).toBe(
      '2026-11-01T01:30:00-04:00',
    );
    expect(formatInTimeZone(new Date('2026-11-01T06:30:00Z'), 'America/New_York')).toBe(
      '2026-11-01T01:30:00-05:00',
    );
    expect(formatInTimeZone(new Date('2026-06-01T00:00:00.999Z'), 'UTC')).toBe('2026-06-01T00:00:00+00:00');
  });

  test('midnight is hour 0, not 24', () => {
    expect(wallClockAt(new Date('2026-06-01T22:00:00Z'), 'Europe/Berlin')).toMatchObject({ day: 2, hour: 0 });
  });
});
