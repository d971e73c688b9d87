import { instantaneousFaults } from '@simian/protocol';
import { describeFault } from '../cli/progress.js';
import type { Journal } from '../runner/journal.js';

/** A fault's time on its target: injection to revert (for kill/restart, to the end of the hold). */
export interface FaultWindow {
  from: number;
  to: number;
  label: string;
  target: string;
  /** kill/restart: nothing was reverted, the window is the experiment's duration. */
  instantaneous: boolean;
  /** A fault with something to revert whose revert was never seen. */
  unreverted: boolean;
}

/** The span every chart of one run shares: start to end, widened to the last sample. */
export function runSpan(journal: Journal): { from: number; to: number } {
  const lastSample = journal.samples.reduce((max, sample) => Math.max(max, sample.at + sample.latencyMs), 0);
  const to = Math.max(journal.endedAt, lastSample, journal.startedAt + 1);
  return { from: journal.startedAt, to };
}

export function faultWindows(journal: Journal): FaultWindow[] {
  const holdEnd = journal.phases.find((phase) => phase.name === 'hold')?.endedAt;
  const windows: FaultWindow[] = [];
  for (const record of journal.faults) {
    if (record.injectedAt === undefined) continue;
    const instantaneous = instantaneousFaults.has(record.fault.type);
    const end = instantaneous ? (holdEnd ?? record.injectedAt) : (record.revertedAt ?? journal.endedAt);
    windows.push({
      from: record.injectedAt,
      to: Math.max(end, record.injectedAt),
      label: describeFault(record.fault),
      target: record.target.name,
      instantaneous,
      unreverted: !instantaneous && record.revertedAt === undefined,
    });
  }
  return windows;
}

/**
 * Where recovery was measured from and when steady state was back. The runner measures from the
 * last revert it saw (the injection when only kill/restart faults ran); the agents' revert times
 * stand in for the moment it saw them, a few milliseconds apart.
 */
export function recoveryMarks(journal: Journal): { start: number; recoveredAt?: number } | undefined {
  const injected = journal.faults.filter((record) => record.injectedAt !== undefined);
  if (injected.length === 0) return undefined;
  const revertible = injected.filter((record) => !instantaneousFaults.has(record.fault.type));
  const reverts = revertible.flatMap((record) =>
    record.revertedAt === undefined ? [] : [record.revertedAt],
  );
  const start =
    revertible.length > 0
      ? reverts.length > 0
        ? Math.max(...reverts)
        : undefined
      : (journal.phases.find((phase) => phase.name === 'inject')?.startedAt ??
        Math.min(...injected.map((record) => record.injectedAt as number)));
  if (start === undefined) return undefined;
  return journal.timeToRecoverMs === null
    ? { start }
    : { start, recoveredAt: start + journal.timeToRecoverMs };
}

/** `+2.1s` from the start of the run. */
export function offset(at: number, from: number): string {
  const ms = at - from;
  if (Math.abs(ms) < 1_000) return `+${Math.round(ms)}ms`;
  return `+${(ms / 1_000).toFixed(1)}s`;
}
