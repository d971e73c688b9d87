import { describe, expect, test } from 'vitest';
import { drawInterval, type RandomInterval } from './mtbk.js';

const HOUR = 3_600_000;
const interval: RandomInterval = { meanMs: 2 * HOUR, jitterMs: 30 * 60_000 };

function chain(seed: string, start: number, count: number): number[] {
  const gaps: number[] = [];
  let at = start;
  for (let index = 0; index < count; index += 1) {
    const gap = drawInterval(interval, seed, at);
    gaps.push(gap);
    at += gap;
  }
  return gaps;
}

describe('mean time between kills', () => {
  const start = Date.parse('2026-03-25T09:00:00Z');

  test('every draw is within mean ± jitter, and 1,000 of them average within 2% of the mean', () => {
    const gaps = chain('web-kill', start, 1_000);
    for (const gap of gaps) {
      expect(gap).toBeGreaterThanOrEqual(interval.meanMs - interval.jitterMs);
      expect(gap).toBeLessThanOrEqual(interval.meanMs + interval.jitterMs);
    }
    const mean = gaps.reduce((sum, gap) => sum + gap, 0) / gaps.length;
    expect(Math.abs(mean - interval.meanMs) / interval.meanMs).toBeLessThan(0.02);
    // Spread over the whole range, not bunched at the mean.
    expect(Math.min(...gaps)).toBeLessThan(interval.meanMs - 0.9 * interval.jitterMs);
    expect(Math.max(...gaps)).toBeGreaterThan(interval.meanMs + 0.9 * interval.jitterMs);
  });

  test('the same seed and previous fire give the same draw; another seed gives others', () => {
    expect(chain('web-kill', start, 50)).toEqual(chain('web-kill', start, 50));
    expect(chain('db-kill', start, 50)).not.toEqual(chain('web-kill', start, 50));
    expect(drawInterval(interval, 'web-kill', start + 1)).not.toBe(drawInterval(interval, 'web-kill', start));
  });

  test('without jitter the gap is the mean', () => {
    expect(drawInterval({ meanMs: HOUR, jitterMs: 0 }, 'x', start)).toBe(HOUR);
  });
});
