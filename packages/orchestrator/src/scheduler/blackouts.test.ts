import { describe, expect, test } from 'vitest';
import {
  type Blackout,
  blackoutAt,
  blackoutBounds,
  describeBlackout,
  isLocalDate,
  isLocalDateTime,
} from './blackouts.js';

describe('blackouts', () => {
  test('days and wall-clock times must exist in the calendar', () => {
    expect(isLocalDate('2026-12-24')).toBe(true);
    expect(isLocalDate('2028-02-29')).toBe(true);
    expect(isLocalDate('2026-02-29')).toBe(false);
    expect(isLocalDate('2026-12-24T10:00')).toBe(false);
    expect(isLocalDateTime('2026-12-24T18:00')).toBe(true);
    expect(isLocalDateTime('2026-12-24T24:00')).toBe(false);
    expect(isLocalDateTime('2026-12-24 18:00')).toBe(false);
  });

  test('a day is the whole day on the schedule’s wall clock', () => {
    const blackouts: Blackout[] = ['2026-12-24'];
    const at = (utc: string) => blackoutAt(blackouts, 'Europe/Berlin', new Date(utc));
    // Europe/Berlin is UTC+1 in December.
    expect(at('2026-12-23T22:59:59Z')).toBeUndefined();
    expect(at('2026-12-23T23:00:00Z')).toBe('2026-12-24');
    expect(at('2026-12-24T22:59:59Z')).toBe('2026-12-24');
    expect(at('2026-12-24T23:00:00Z')).toBeUndefined();
  });

  test('a day on a DST change is 23 or 25 hours long', () => {
    const hoursIn = (day: string, timeZone: string, from: string) => {
      let hours = 0;
      for (let at = Date.parse(from); at < Date.parse(from) + 48 * 3_600_000; at += 3_600_000) {
        if (blackoutAt([day], timeZone, new Date(at)) !== undefined) hours += 1;
      }
      return hours;
    };
    expect(hoursIn('2026-03-29', 'Europe/Berlin', '2026-03-28T00:00:00Z')).toBe(23);
    expect(hoursIn('2026-10-25', 'Europe/Berlin', '2026-10-24T00:00:00Z')).toBe(25);
  });

  test('a range of days includes both whole days', () => {
    const range = { from: '2026-12-28', to: '2027-01-01' };
    const at = (utc: string) => blackoutAt([range], 'UTC', new Date(utc));
    expect(at('2026-12-27T23:59:59Z')).toBeUndefined();
    expect(at('2026-12-28T00:00:00Z')).toBe(range);
    expect(at('2027-01-01T23:59:59Z')).toBe(range);
    expect(at('2027-01-02T00:00:00Z')).toBeUndefined();
    expect(blackoutBounds(range)).toEqual({ start: '2026-12-28T00:00:00', end: '2027-01-01T24:00:00' });
  });

  test('a wall-clock time starts a range inclusively and ends it exclusively', () => {
    const range = { from: '2026-12-31T18:00', to: '2027-01-01T06:00' };
    const at = (utc: string) => blackoutAt([range], 'America/New_York', new Date(utc));
    // America/New_York is UTC-5 in winter.
    expect(at('2026-12-31T22:59:59Z')).toBeUndefined();
    expect(at('2026-12-31T23:00:00Z')).toBe(range);
    expect(at('2027-01-01T10:59:59Z')).toBe(range);
    expect(at('2027-01-01T11:00:00Z')).toBeUndefined();
  });

  test('a range may start at a time and end with a whole day', () => {
    const range = { from: '2026-12-23T12:00', to: '2026-12-26' };
    const at = (utc: string) => blackoutAt([range], 'UTC', new Date(utc));
    expect(at('2026-12-23T11:59:00Z')).toBeUndefined();
    expect(at('2026-12-23T12:00:00Z')).toBe(range);
    expect(at('2026-12-26T23:59:00Z')).toBe(range);
    expect(at('2026-12-27T00:00:00Z')).toBeUndefined();
  });

  test('blackouts are described as written', () => {
    expect(describeBlackout('2026-12-24')).toBe('2026-12-24');
    expect(describeBlackout({ from: '2026-12-28', to: '2027-01-01' })).toBe('2026-12-28 to 2027-01-01');
  });
});
