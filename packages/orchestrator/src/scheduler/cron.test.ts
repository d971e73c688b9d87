import { describe, expect, test } from 'vitest';
import { cronProblem, nextCronFire } from './cron.js';

describe('cron expressions', () => {
  test.each([
    '*/30 10-16 * * 1-5',
    '0 10 * * mon-fri',
    '@daily',
    '0 0 L * *',
    '0 0 * * 5L',
    '0 0 10 * * *',
    '0 0 13 * ?',
  ])('%s is accepted', (expression) => {
    expect(cronProblem(expression)).toBeUndefined();
  });

  test.each([
    [
      '61 * * * *',
      "'61' is not a valid minute; expected 5 fields (minute hour day-of-month month day-of-week), or 6 with seconds first",
    ],
    [
      'H 10 * * *',
      "'H' is not a valid minute; expected 5 fields (minute hour day-of-month month day-of-week), or 6 with seconds first",
    ],
    [
      '* * * *',
      'expected a cron expression of 5 fields (minute hour day-of-month month day-of-week), or 6 with seconds first, got 4 fields',
    ],
    ['0 0 31 2 *', "day of month '31' never happens in the months it names"],
    [
      '0 0 13 * 5',
      'restricts both day of month and day of week, which cron implementations read differently (either one, or both, must match); restrict only one and write * for the other',
    ],
  ])('%s is refused', (expression, message) => {
    expect(cronProblem(expression)).toBe(message);
  });

  test('the next fire is strictly after the given instant', () => {
    expect(nextCronFire('*/30 * * * *', 'UTC', new Date('2026-03-25T10:00:00Z'))).toEqual(
      new Date('2026-03-25T10:30:00Z'),
    );
    expect(nextCronFire('*/30 * * * *', 'UTC', new Date('2026-03-25T10:29:59.500Z'))).toEqual(
      new Date('2026-03-25T10:30:00Z'),
    );
  });
});
