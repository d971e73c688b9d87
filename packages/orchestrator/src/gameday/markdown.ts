import { formatDuration } from '@simian/protocol';
import type { ExperimentResult, GateReport, Outcome, StepResult, SuiteReport } from './report-schema.js';
import { describeFailure, failureMessage } from './score.js';

const OUTCOME_TEXT: Record<Outcome, string> = {
  passed: '✅ passed',
  failed: '❌ failed',
  aborted: '⚠️ aborted',
  error: '💥 error',
  belowMinScore: '📉 score below minimum',
};

const STATUS_ICON: Record<ExperimentResult['status'], string> = {
  passed: '✅',
  failed: '❌',
  aborted: '⚠️',
  error: '💥',
  skipped: '⏭️',
};

/** A summary of `simian gate` fit for a pull-request comment. */
export function renderGateMarkdown(report: GateReport): string {
  const lines = [
    `## simian gate: ${OUTCOME_TEXT[report.outcome]}`,
    '',
    `**Resilience score ${report.score} / 100**${report.minScore === undefined ? '' : ` (minimum ${report.minScore})`} · exit code ${report.exitCode} · ${duration(report.endedAt - report.startedAt)}`,
    '',
    cell(report.reason),
    '',
  ];
  for (const suite of report.suites) lines.push(...suiteSection(suite, '###'));
  lines.push(...footer());
  return `${lines.join('\n').trimEnd()}\n`;
}

/** The Markdown report of one game day. */
export function renderGameDayMarkdown(suite: SuiteReport): string {
  const lines = [`# Game day ${suite.name}: ${OUTCOME_TEXT[suite.outcome]}`, ''];
  if (suite.description !== undefined) lines.push(suite.description, '');
  lines.push(
    `Started ${new Date(suite.startedAt).toISOString()}, took ${duration(suite.endedAt - suite.startedAt)}; id \`${suite.id}\`${suite.file === undefined ? '' : `; file \`${suite.file}\``}.`,
    '',
    ...suiteSection(suite, '##', true),
    ...footer(),
  );
  return `${lines.join('\n').trimEnd()}\n`;
}

function suiteSection(suite: SuiteReport, heading: string, withSteps = false): string[] {
  const experiments = suite.steps.filter((step) => step.type === 'experiment');
  const lines = [
    `${heading} ${suite.name}: ${OUTCOME_TEXT[suite.outcome]}, score ${suite.score}${suite.minScore === undefined ? '' : ` (minimum ${suite.minScore})`}`,
    '',
    cell(suite.reason),
    '',
    '| | experiment | required | weight | verdict | time | reason |',
    '|---|---|---|---|---|---|---|',
    ...experiments.map(
      (experiment) =>
        `| ${STATUS_ICON[experiment.status]} | ${cell(experiment.name)} | ${experiment.required ? 'yes' : 'no'} | ${experiment.weight} | ${experiment.status} | ${experimentTime(experiment)} | ${cell(experiment.status === 'passed' || experiment.status === 'skipped' ? experiment.reason : failureMessage(experiment))} |`,
    ),
    '',
  ];
  const failing = experiments.filter((experiment) => experiment.failures.length > 0);
  if (failing.length > 0) {
    lines.push('<details><summary>Probes that missed</summary>', '');
    for (const experiment of failing) {
      for (const failure of experiment.failures)
        lines.push(`- **${cell(experiment.name)}**: ${cell(describeFailure(failure))}`);
    }
    lines.push('', '</details>', '');
  }
  if (withSteps) {
    lines.push(
      `${heading} Steps`,
      '',
      ...suite.steps.map((step) => `${step.index + 1}. ${describeStep(step)}`),
      '',
    );
  }
  return lines;
}

function describeStep(step: StepResult): string {
  switch (step.type) {
    case 'experiment':
      return `${STATUS_ICON[step.status]} experiment **${cell(step.name)}**: ${step.status}${step.runId === undefined ? '' : ` (run \`${step.runId}\`)`}`;
    case 'pause':
      return `⏸️ pause ${step.duration}${step.reason === undefined ? '' : ` (${cell(step.reason)})`}: ${step.status}`;
    case 'approval':
      return `🙋 approval "${cell(step.message)}": ${step.status}${step.by === undefined ? '' : ` by ${step.by}`}`;
  }
}

function footer(): string[] {
  return [
    '<sub>Score = 100 × Σ weight of passed experiments / Σ weight of all experiments (docs/gate.md).</sub>',
  ];
}

function experimentTime(experiment: ExperimentResult): string {
  if (experiment.startedAt === undefined || experiment.endedAt === undefined) return '–';
  return duration(experiment.endedAt - experiment.startedAt);
}

function duration(ms: number): string {
  return formatDuration(Math.max(0, ms));
}

/** Text safe inside a table cell: no line breaks, pipes escaped, no stray HTML. */
function cell(value: string): string {
  return value
    .replace(/\r?\n/g, ' ')
    .replace(/\\/g, '\\\\')
    .replace(/\|/g, '\\|')
    .replace(/</g, '&lt;')
    .replace(/>/g, '&gt;');
}
