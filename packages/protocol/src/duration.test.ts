import { describe, expect, it } from 'vitest';
import { durationSchema, formatDuration, parseDuration } from './duration.js';

describe('durations', () => {
  it('parses the units users write', () => {
    expect(parseDuration('500ms')).toBe(500);
    expect(parseDuration('30s')).toBe(30_000);
    expect(parseDuration('1.5s')).toBe(1_500);
    expect(parseDuration('5m')).toBe(300_000);
    expect(parseDuration('1h')).toBe(3_600_000);
  });

  it('rejects anything else', () => {
    for (const text of ['', '5', 's', '5 parsecs', '-1s', '1d', '1e3ms'])
      expect(parseDuration(text), text).toBeUndefined();
    expect(durationSchema.safeParse('soon').error?.issues[0]?.message).toBe(
      'expected a duration such as 500ms, 30s or 5m, got "soon"',
    );
  });

  it('formats for people', () => {
    expect(formatDuration(250)).toBe('250ms');
    expect(formatDuration(1_500)).toBe('1.5s');
    expect(formatDuration(30_000)).toBe('30s');
    expect(formatDuration(90_000)).toBe('1.5m');
  });
});
