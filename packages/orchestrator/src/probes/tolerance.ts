import { durationMs } from '@simian/protocol';
import type { Probe, StopCondition } from '../experiments/schema.js';
import type { ProbeSample } from './probe-sample.js';

export type Tolerance = Probe['tolerance'];

export interface ToleranceJudgement {
  ok: boolean;
  samples: number;
  /** Share of successful samples, 0 when there are none. */
  successRate: number;
  /** Latency percentiles over all samples, failed ones included; absent when there are none. */
  p50?: number;
  p95?: number;
  p99?: number;
  /** What failed, e.g. `success rate 0.62 below 0.99 (31/50 ok); p95 412ms above 300ms`. */
  reason?: string;
}

export interface StopConditionCheck {
  triggered: boolean;
  successRate: number;
  /** Samples inside the window. */
  samples: number;
}

export interface ProbeSummary {
  ok: number;
  total: number;
  successRate: number;
  p95?: number;
  /** Error of the most recent failed sample. */
  lastError?: string;
}

/** Fewer samples than this in a stop condition's window are not enough to abort a run. */
export const STOP_CONDITION_MIN_SAMPLES = 3;

const PERCENTILES = ['p50', 'p95', 'p99'] as const;

/** Nearest-rank percentile of `values` (`p` from 0 to 100); undefined for no values. */
export function percentile(values: readonly number[], p: number): number | undefined {
  if (!(p >= 0 && p <= 100)) throw new Error(`percentile must be between 0 and 100, got ${p}`);
  if (values.length === 0) return undefined;
  const sorted = [...values].sort((a, b) => a - b);
  const rank = Math.max(1, Math.ceil((p / 100) * sorted.length));
  return sorted[rank - 1];
}

/** Judges a probe's samples over one window against its tolerance. */
export function judgeTolerance(samples: readonly ProbeSample[], tolerance: Tolerance): ToleranceJudgement {
  if (samples.length === 0) return { ok: false, samples: 0, successRate: 0, reason: 'no samples' };
  const okCount = samples.filter((sample) => sample.ok).length;
  const successRate = okCount / samples.length;
  const latencies = samples.map((sample) => sample.latencyMs);
  const judgement: ToleranceJudgement = { ok: true, samples: samples.length, successRate };
  const reasons: string[] = [];
  if (successRate < tolerance.successRate) {
    reasons.push(
      `success rate ${formatRate(successRate, tolerance.successRate)} below ${tolerance.successRate} (${okCount}/${samples.length} ok)`,
    );
  }
  for (const name of PERCENTILES) {
    const value = percentile(latencies, Number(name.slice(1)));
    if (value === undefined) continue;
    judgement[name] = value;
    const ceiling = tolerance[name];
    if (ceiling !== undefined && value > durationMs(ceiling)) {
      // Rounded up so a value just over the ceiling never reads as equal to it.
      reasons.push(`${name} ${Math.ceil(value)}ms above ${ceiling}`);
    }
  }
  if (reasons.length > 0) {
    judgement.ok = false;
    judgement.reason = reasons.join('; ');
  }
  return judgement;
}

/**
 * Checks a stop condition over the samples of its probe taken in the trailing `window` before
 * `now` (samples of other probes are ignored). Triggers only with at least
 * {@link STOP_CONDITION_MIN_SAMPLES} samples in the window, so one early failure cannot abort a run.
 */
export function checkStopCondition(
  samples: readonly ProbeSample[],
  condition: StopCondition,
  now: number,
): StopConditionCheck {
  const from = now - durationMs(condition.window);
  const inWindow = samples.filter(
    (sample) => sample.probe === condition.probe && sample.at > from && sample.at <= now,
  );
  const okCount = inWindow.filter((sample) => sample.ok).length;
  const successRate = inWindow.length === 0 ? 0 : okCount / inWindow.length;
  return {
    triggered: inWindow.length >= STOP_CONDITION_MIN_SAMPLES && successRate < condition.successRateBelow,
    successRate,
    samples: inWindow.length,
  };
}

/**
 * When every probe came back: for each probe, the start of its first run of `consecutive`
 * successful samples taken at or after `since`; overall, the latest of those. Undefined while
 * any probe has not recovered. With no probes there is nothing to wait for: recovered at `since`.
 */
export function findRecovery(
  samplesByProbe: ReadonlyMap<string, readonly ProbeSample[]>,
  since: number,
  consecutive = 3,
): { recoveredAt: number } | undefined {
  if (!Number.isInteger(consecutive) || consecutive < 1) {
    throw new Error(`consecutive must be a positive integer, got ${consecutive}`);
  }
  let recoveredAt = since;
  for (const samples of samplesByProbe.values()) {
    const recent = samples.filter((sample) => sample.at >= since).sort((a, b) => a.at - b.at);
    const at = firstRunStart(recent, consecutive);
    if (at === undefined) return undefined;
    recoveredAt = Math.max(recoveredAt, at);
  }
  return { recoveredAt };
}

function firstRunStart(samples: readonly ProbeSample[], consecutive: number): number | undefined {
  let run = 0;
  for (const [index, sample] of samples.entries()) {
    run = sample.ok ? run + 1 : 0;
    if (run === consecutive) return samples[index - consecutive + 1]?.at;
  }
  return undefined;
}

/** Live progress of one probe: how many attempts succeeded and how slow they were. */
export function summarizeProbe(samples: readonly ProbeSample[]): ProbeSummary {
  const ok = samples.filter((sample) => sample.ok).length;
  const summary: ProbeSummary = {
    ok,
    total: samples.length,
    successRate: samples.length === 0 ? 0 : ok / samples.length,
  };
  const p95 = percentile(
    samples.map((sample) => sample.latencyMs),
    95,
  );
  if (p95 !== undefined) summary.p95 = p95;
  const lastError = samples.findLast((sample) => !sample.ok)?.error;
  if (lastError !== undefined) summary.lastError = lastError;
  return summary;
}

/** Groups samples by probe name, keeping their order. */
export function groupByProbe(samples: readonly ProbeSample[]): Map<string, ProbeSample[]> {
  const groups = new Map<string, ProbeSample[]>();
  for (const sample of samples) {
    const group = groups.get(sample.probe);
    if (group) group.push(sample);
    else groups.set(sample.probe, [sample]);
  }
  return groups;
}

/**
 * Shortest rendering of a success rate that still reads as below `threshold`: 0.985 against 0.99
 * must not print as `0.99 below 0.99`.
 */
function formatRate(rate: number, threshold: number): string {
  for (let digits = 2; digits < 6; digits++) {
    const text = String(Number(rate.toFixed(digits)));
    if (Number(text) < threshold) return text;
  }
  return String(Number(rate.toFixed(6)));
}
