import { describe, expect, it } from 'vitest';
import type { ProbeSample } from './probe-sample.js';
import {
  checkStopCondition,
  findRecovery,
  groupByProbe,
  judgeTolerance,
  percentile,
  summarizeProbe,
} from './tolerance.js';

function sample(overrides: Partial<ProbeSample> = {}): ProbeSample {
  return { probe: 'web', phase: 'during', at: 0, latencyMs: 10, ok: true, ...overrides };
}

/** `pattern` of `o` (ok) and `x` (failed), one sample per character, `step` ms apart from `start`. */
function series(pattern: string, options: { probe?: string; start?: number; step?: number } = {}) {
  const { probe = 'web', start = 0, step = 100 } = options;
  return [...pattern].map((char, index) =>
    sample({ probe, at: start + index * step, ok: char === 'o', ...(char === 'o' ? {} : { error: 'boom' }) }),
  );
}

function latencies(values: number[]): ProbeSample[] {
  return values.map((latencyMs, index) => sample({ at: index, latencyMs }));
}

describe('percentile', () => {
  it('uses the nearest rank', () => {
    const values = [15, 20, 35, 40, 50];
    expect(percentile(values, 5)).toBe(15);
    expect(percentile(values, 30)).toBe(20);
    expect(percentile(values, 40)).toBe(20);
    expect(percentile(values, 50)).toBe(35);
    expect(percentile(values, 100)).toBe(50);
  });

  it('takes the smallest value for p0 and does not depend on order', () => {
    expect(percentile([9, 3, 7], 0)).toBe(3);
    expect(percentile([9, 3, 7], 50)).toBe(7);
  });

  it('gives the value itself for one sample and undefined for none', () => {
    expect(percentile([42], 99)).toBe(42);
    expect(percentile([], 50)).toBeUndefined();
  });

  it('picks rank ceil(p/100 * n) of 100 values', () => {
    const values = Array.from({ length: 100 }, (_, index) => 100 - index);
    expect(percentile(values, 50)).toBe(50);
    expect(percentile(values, 95)).toBe(95);
    expect(percentile(values, 99)).toBe(99);
  });

  it('rejects a percentile outside 0..100', () => {
    expect(() => percentile([1], 101)).toThrow('between 0 and 100');
    expect(() => percentile([1], Number.NaN)).toThrow('between 0 and 100');
  });
});

describe('judgeTolerance', () => {
  it('is not ok without samples', () => {
    expect(judgeTolerance([], { successRate: 0 })).toEqual({
      ok: false,
      samples: 0,
      successRate: 0,
      reason: 'no samples',
    });
  });

  it('passes when every sample succeeded and reports the percentiles', () => {
    const judgement = judgeTolerance(latencies([10, 20, 30, 40]), { successRate: 1 });
    expect(judgement).toEqual({ ok: true, samples: 4, successRate: 1, p50: 20, p95: 40, p99: 40 });
  });

  it('fails a success rate below the tolerance and says by how much', () => {
    const samples = series(`${'o'.repeat(31)}${'x'.repeat(19)}`);
    const judgement = judgeTolerance(samples, { successRate: 0.99 });
    expect(judgement.ok).toBe(false);
    expect(judgement.successRate).toBe(0.62);
    expect(judgement.reason).toBe('success rate 0.62 below 0.99 (31/50 ok)');
  });

  it('passes a success rate exactly at the tolerance', () => {
    const samples = series(`${'o'.repeat(99)}x`);
    expect(judgeTolerance(samples, { successRate: 0.99 })).toMatchObject({ ok: true, successRate: 0.99 });
  });

  it('never prints a failing rate as equal to the tolerance', () => {
    const samples = series(`${'o'.repeat(98)}x`);
    expect(judgeTolerance(samples, { successRate: 0.99 }).reason).toBe(
      'success rate 0.9899 below 0.99 (98/99 ok)',
    );
  });

  it('accepts anything with a zero success rate tolerance', () => {
    expect(judgeTolerance(series('xxx'), { successRate: 0 })).toMatchObject({ ok: true, successRate: 0 });
  });

  it('fails a latency percentile above its ceiling', () => {
    const samples = latencies([...Array.from({ length: 19 }, () => 100), 412]);
    const judgement = judgeTolerance(samples, { successRate: 1, p95: '300ms' });
    // One slow sample in twenty is the p99, not the p95.
    expect(judgement).toEqual({ ok: true, samples: 20, successRate: 1, p50: 100, p95: 100, p99: 412 });
    const slower = latencies([...Array.from({ length: 18 }, () => 100), 412, 412]);
    expect(judgeTolerance(slower, { successRate: 1, p95: '300ms' })).toMatchObject({
      ok: false,
      p95: 412,
      reason: 'p95 412ms above 300ms',
    });
  });

  it('passes a percentile exactly at its ceiling', () => {
    expect(judgeTolerance(latencies([300, 300]), { successRate: 1, p99: '300ms' }).ok).toBe(true);
  });

  it('rounds a percentile just over its ceiling up in the reason', () => {
    expect(judgeTolerance(latencies([300.2]), { successRate: 1, p50: '300ms' }).reason).toBe(
      'p50 301ms above 300ms',
    );
  });

  it('understands ceilings in seconds', () => {
    expect(judgeTolerance(latencies([1500]), { successRate: 1, p50: '1s' }).reason).toBe(
      'p50 1500ms above 1s',
    );
    expect(judgeTolerance(latencies([900]), { successRate: 1, p50: '1s' }).ok).toBe(true);
  });

  it('counts failed samples in the latency percentiles', () => {
    const samples = [
      sample({ latencyMs: 10 }),
      sample({ latencyMs: 500, ok: false, error: 'timed out after 500ms' }),
    ];
    expect(judgeTolerance(samples, { successRate: 0, p99: '300ms' })).toMatchObject({
      ok: false,
      p99: 500,
      reason: 'p99 500ms above 300ms',
    });
  });

  it('names every failure, success rate first', () => {
    const samples = [
      sample({ latencyMs: 50 }),
      sample({ latencyMs: 400, ok: false }),
      sample({ latencyMs: 900, ok: false }),
      sample({ latencyMs: 100 }),
    ];
    const judgement = judgeTolerance(samples, { successRate: 0.9, p50: '80ms', p95: '500ms', p99: '1s' });
    expect(judgement).toMatchObject({ ok: false, successRate: 0.5, p50: 100, p95: 900, p99: 900 });
    expect(judgement.reason).toBe(
      'success rate 0.5 below 0.9 (2/4 ok); p50 100ms above 80ms; p95 900ms above 500ms',
    );
  });
});

describe('checkStopCondition', () => {
  const condition = { probe: 'web', successRateBelow: 0.5, window: '1s' };

  it('triggers when the success rate in the window drops below the threshold', () => {
    const samples = series('ooxxxxxxxx', { step: 100 });
    expect(checkStopCondition(samples, condition, 900)).toEqual({
      triggered: true,
      successRate: 0.2,
      samples: 10,
    });
  });

  it('only looks at the trailing window', () => {
    const samples = series('xxxxxooooo', { step: 200 });
    expect(checkStopCondition(samples, condition, 1800)).toEqual({
      triggered: false,
      successRate: 1,
      samples: 5,
    });
    expect(checkStopCondition(samples, condition, 1000)).toEqual({
      triggered: true,
      successRate: 0.2,
      samples: 5,
    });
  });

  it('includes a sample taken exactly now and excludes one exactly a window ago', () => {
    const samples = series('xxxx', { step: 500 });
    expect(checkStopCondition(samples, condition, 1500).samples).toBe(2);
    expect(checkStopCondition(samples, condition, 1000).samples).toBe(2);
  });

  it('ignores samples taken after now', () => {
    const samples = series('oooxxx', { step: 100 });
    expect(checkStopCondition(samples, condition, 250)).toEqual({
      triggered: false,
      successRate: 1,
      samples: 3,
    });
  });

  it('needs at least three samples in the window', () => {
    expect(checkStopCondition(series('xx'), condition, 100)).toEqual({
      triggered: false,
      successRate: 0,
      samples: 2,
    });
    expect(checkStopCondition(series('xxx'), condition, 200)).toEqual({
      triggered: true,
      successRate: 0,
      samples: 3,
    });
    expect(checkStopCondition([], condition, 200)).toEqual({ triggered: false, successRate: 0, samples: 0 });
  });

  it('does not trigger at exactly the threshold', () => {
    expect(checkStopCondition(series('ooxx'), condition, 300)).toMatchObject({
      triggered: false,
      successRate: 0.5,
    });
  });

  it('ignores samples of other probes', () => {
    const samples = [...series('xxxx', { probe: 'api' }), ...series('oooo')];
    expect(checkStopCondition(samples, condition, 300)).toEqual({
      triggered: false,
      successRate: 1,
      samples: 4,
    });
  });
});

describe('findRecovery', () => {
  it('finds the start of the first run of consecutive successes', () => {
    const samples = series('xxoxooooo', { start: 1000 });
    expect(findRecovery(new Map([['web', samples]]), 1000)).toEqual({ recoveredAt: 1400 });
  });

  it('honours a custom run length', () => {
    const samples = series('xoxooxoooo', { start: 0 });
    expect(findRecovery(new Map([['web', samples]]), 0, 1)).toEqual({ recoveredAt: 100 });
    expect(findRecovery(new Map([['web', samples]]), 0, 2)).toEqual({ recoveredAt: 300 });
    expect(findRecovery(new Map([['web', samples]]), 0, 4)).toEqual({ recoveredAt: 600 });
    expect(findRecovery(new Map([['web', samples]]), 0, 5)).toBeUndefined();
  });

  it('ignores samples before `since`', () => {
    const samples = series('oooxxoooo', { start: 0 });
    expect(findRecovery(new Map([['web', samples]]), 0)).toEqual({ recoveredAt: 0 });
    expect(findRecovery(new Map([['web', samples]]), 100)).toEqual({ recoveredAt: 500 });
    expect(findRecovery(new Map([['web', samples]]), 500)).toEqual({ recoveredAt: 500 });
  });

  it('counts a run that ends with the last sample', () => {
    expect(findRecovery(new Map([['web', series('xxooo')]]), 0)).toEqual({ recoveredAt: 200 });
  });

  it('is undefined until the run is long enough', () => {
    expect(findRecovery(new Map([['web', series('xxoo')]]), 0)).toBeUndefined();
    expect(findRecovery(new Map([['web', series('ooxoox')]]), 0)).toBeUndefined();
  });

  it('takes the latest recovery over all probes', () => {
    const byProbe = new Map([
      ['web', series('xooo', { probe: 'web' })],
      ['api', series('xxxxxooo', { probe: 'api' })],
    ]);
    expect(findRecovery(byProbe, 0)).toEqual({ recoveredAt: 500 });
  });

  it('is undefined while any probe has not recovered', () => {
    const byProbe = new Map([
      ['web', series('ooooo', { probe: 'web' })],
      ['api', series('ooxoo', { probe: 'api' })],
    ]);
    expect(findRecovery(byProbe, 0)).toBeUndefined();
  });

  it('is undefined for a probe without samples since `since`', () => {
    const byProbe = new Map([
      ['web', series('ooo')],
      ['api', series('ooo', { probe: 'api', start: 0 })],
    ]);
    expect(findRecovery(byProbe, 1000)).toBeUndefined();
    expect(findRecovery(new Map([['web', []]]), 0)).toBeUndefined();
  });

  it('orders samples by start time', () => {
    const samples = series('xooo').reverse();
    expect(findRecovery(new Map([['web', samples]]), 0)).toEqual({ recoveredAt: 100 });
  });

  it('is recovered at `since` when there are no probes', () => {
    expect(findRecovery(new Map(), 1234)).toEqual({ recoveredAt: 1234 });
  });

  it('rejects a run length below one', () => {
    expect(() => findRecovery(new Map(), 0, 0)).toThrow('positive integer');
  });
});

describe('summarizeProbe', () => {
  it('counts, rates and takes p95', () => {
    const samples = [
      sample({ latencyMs: 10 }),
      sample({ latencyMs: 20, ok: false, error: 'status 502, expected 200' }),
      sample({ latencyMs: 30 }),
      sample({ latencyMs: 500, ok: false, error: 'timed out after 500ms' }),
    ];
    expect(summarizeProbe(samples)).toEqual({
      ok: 2,
      total: 4,
      successRate: 0.5,
      p95: 500,
      lastError: 'timed out after 500ms',
    });
  });

  it('has no p95 or error without samples', () => {
    expect(summarizeProbe([])).toEqual({ ok: 0, total: 0, successRate: 0 });
  });

  it('leaves out lastError when nothing failed', () => {
    expect(summarizeProbe(series('ooo'))).toEqual({ ok: 3, total: 3, successRate: 1, p95: 10 });
  });
});

describe('groupByProbe', () => {
  it('groups by probe name in order', () => {
    const web = series('oxo', { probe: 'web' });
    const api = series('xo', { probe: 'api' });
    const mixed = [web[0], api[0], web[1], api[1], web[2]].filter((s) => s !== undefined);
    const groups = groupByProbe(mixed);
    expect([...groups.keys()]).toEqual(['web', 'api']);
    expect(groups.get('web')).toEqual(web);
    expect(groups.get('api')).toEqual(api);
  });
});
