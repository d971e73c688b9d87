import { formatDuration } from '@simian/protocol';
import pc from 'picocolors';
import { describeFault } from '../cli/progress.js';
import type { HistoryVerdict, RunDetail, RunRecord } from '../history/run-history.js';
import { offset } from './run-timeline.js';

const VERDICT_STYLE: Record<HistoryVerdict, (text: string) => string> = {
  running: pc.cyan,
  passed: pc.green,
  failed: pc.red,
  aborted: pc.yellow,
  error: pc.magenta,
};

/** `simian runs`: one aligned line per run, newest first. */
export function renderRunsTable(runs: RunRecord[]): string {
  const rows = runs.map((run) => [
    run.runId,
    run.verdict,
    run.experiment,
    isoSeconds(run.startedAt),
    run.endedAt === undefined ? '-' : formatDuration(run.endedAt - run.startedAt),
    run.source,
  ]);
  const header = ['RUN', 'VERDICT', 'EXPERIMENT', 'STARTED (UTC)', 'TOOK', 'SOURCE'];
  const widths = header.map((title, column) =>
    Math.max(title.length, ...rows.map((row) => (row[column] as string).length)),
  );
  const line = (cells: string[], style?: (verdict: string) => string): string =>
    cells
      .map((cell, column) => {
        const padded = column === cells.length - 1 ? cell : cell.padEnd(widths[column] as number);
        return column === 1 && style ? style(padded) : padded;
      })
      .join('  ');
  return [
    pc.dim(line(header)),
    ...rows.map((row, index) => line(row, (text) => VERDICT_STYLE[(runs[index] as RunRecord).verdict](text))),
  ].join('\n');
}

/** `simian report RUN-ID` without --html: the verdict first, then what the journal says. */
export function renderRunText(run: RunDetail): string {
  const lines: string[] = [];
  lines.push(
    `${VERDICT_STYLE[run.verdict](pc.bold(run.verdict.toUpperCase()))}  ${run.reason || (run.verdict === 'running' ? 'the run is still going' : '')}`,
  );
  lines.push(
    `${pc.bold('run')} ${run.runId}  ${pc.bold(run.experiment)}${run.file ? `  ${pc.dim(run.file)}` : ''}`,
  );
  const took = run.endedAt === undefined ? '' : `, took ${formatDuration(run.endedAt - run.startedAt)}`;
  lines.push(`started ${isoSeconds(run.startedAt)}${took}, source ${run.source}`);
  const journal = run.journal;
  if (journal === undefined) {
    lines.push(pc.dim('no journal: the run is still going, or it ended without one'));
    return lines.join('\n');
  }
  lines.push(`seed ${journal.seed}`);
  if (journal.error) lines.push(`error ${journal.error.code}: ${journal.error.message}`);
  lines.push(`${pc.cyan('targets')} ${journal.targets.length} of ${journal.candidates} matching:`);
  for (const target of journal.targets) {
    lines.push(
      `  ${target.name} ${pc.dim(`${target.driver} ${target.id.slice(0, 12)} on ${target.agent}${target.zone ? ` (${target.zone})` : ''}`)}`,
    );
  }
  lines.push(`${pc.cyan('faults')} ${journal.faults.length === 0 ? 'none injected' : ''}`.trimEnd());
  for (const record of journal.faults) {
    const at = (value: number | undefined): string =>
      value === undefined ? '-' : offset(value, journal.startedAt);
    const how = [record.mechanism ? `via ${record.mechanism}` : undefined, record.detail]
      .filter((part) => part !== undefined)
      .join(': ');
    lines.push(
      `  ${describeFault(record.fault)} → ${record.target.name}  injected ${at(record.injectedAt)}, reverted ${at(record.revertedAt)}${record.revertOutcome ? ` (${record.revertOutcome})` : ''}`,
    );
    if (how) lines.push(`    ${pc.dim(how)}`);
    if (record.revertDetail) lines.push(`    ${pc.dim(`revert: ${record.revertDetail}`)}`);
    if (record.error) lines.push(`    ${pc.red(record.error)}`);
  }
  lines.push(pc.cyan('probes'));
  for (const probe of journal.probes) {
    const samples = journal.samples.filter((sample) => sample.probe === probe.name);
    const failed = samples.filter((sample) => !sample.ok).length;
    lines.push(`  ${probe.name}: ${samples.length} samples, ${failed} failed`);
    for (const phase of ['before', 'during', 'after'] as const) {
      const judgement = probe[phase];
      if (!judgement) continue;
      const p95 = judgement.p95 === undefined ? '' : ` p95 ${formatDuration(Math.ceil(judgement.p95))}`;
      const held = judgement.ok ? pc.green('held') : pc.red('missed');
      lines.push(
        `    ${phase.padEnd(6)} ${held} ${Math.round(judgement.successRate * 100)}% of ${judgement.samples}${p95}${judgement.reason ? ` ${pc.dim(judgement.reason)}` : ''}`,
      );
    }
  }
  if (journal.stopCondition) {
    lines.push(
      `${pc.yellow('stop condition')} ${journal.stopCondition.probe} at ${Math.round(journal.stopCondition.successRate * 100)}% (${offset(journal.stopCondition.at, journal.startedAt)})`,
    );
  }
  lines.push(
    `time to recover: ${journal.timeToRecoverMs === null ? 'not measured' : formatDuration(journal.timeToRecoverMs)}`,
  );
  lines.push(
    `${pc.cyan('phases')} ${journal.phases
      .map(
        (phase) =>
          `${phase.name} ${offset(phase.startedAt, journal.startedAt)}${phase.endedAt === undefined ? '' : `–${offset(phase.endedAt, journal.startedAt).slice(1)}`}`,
      )
      .join(', ')}`,
  );
  return lines.join('\n');
}

function isoSeconds(ms: number): string {
  return new Date(ms).toISOString().replace(/\.\d{3}Z$/, 'Z');
}
