import type { ExperimentResult, GateReport, SuiteReport } from './report-schema.js';
import { describeFailure, failureMessage } from './score.js';

/**
 * JUnit XML for CI: one `<testsuite>` per game day (or one named `simian` for experiments given
 * directly), one `<testcase>` per experiment. A hypothesis that failed, or a run aborted by a
 * stop condition or the operator, is a `<failure>`; a run the tool could not do is an `<error>`;
 * an experiment that never ran is `<skipped>`. Pauses and approvals are not test cases.
 */
export function renderJUnit(report: GateReport): string {
  const experiments = report.suites.flatMap(experimentsOf);
  const lines = [
    '<?xml version="1.0" encoding="UTF-8"?>',
    `<testsuites${attributes({
      name: 'simian gate',
      tests: experiments.length,
      ...counts(experiments),
      time: seconds(report.endedAt - report.startedAt),
      timestamp: new Date(report.startedAt).toISOString(),
    })}>`,
  ];
  for (const suite of report.suites) lines.push(...renderSuite(suite));
  lines.push('</testsuites>', '');
  return lines.join('\n');
}

function renderSuite(suite: SuiteReport): string[] {
  const experiments = experimentsOf(suite);
  const lines = [
    `  <testsuite${attributes({
      name: suite.name,
      id: suite.id,
      tests: experiments.length,
      ...counts(experiments),
      time: seconds(suite.endedAt - suite.startedAt),
      timestamp: new Date(suite.startedAt).toISOString(),
      file: suite.file,
    })}>`,
    '    <properties>',
    ...properties({
      outcome: suite.outcome,
      score: suite.score,
      minScore: suite.minScore,
      onFailure: suite.onFailure,
      reason: suite.reason,
    }).map((line) => `      ${line}`),
    '    </properties>',
  ];
  const names = new Map<string, number>();
  for (const experiment of experiments) names.set(experiment.name, (names.get(experiment.name) ?? 0) + 1);
  for (const experiment of experiments) {
    // Two steps running the same experiment would otherwise be one test case to CI.
    const name =
      (names.get(experiment.name) ?? 0) > 1
        ? `${experiment.name} (step ${experiment.index + 1})`
        : experiment.name;
    lines.push(...renderCase(suite.name, name, experiment).map((line) => `    ${line}`));
  }
  lines.push('  </testsuite>');
  return lines;
}

function renderCase(classname: string, name: string, experiment: ExperimentResult): string[] {
  const time =
    experiment.startedAt === undefined || experiment.endedAt === undefined
      ? 0
      : experiment.endedAt - experiment.startedAt;
  const lines = [
    `<testcase${attributes({ classname, name, time: seconds(time), file: experiment.file })}>`,
    '  <properties>',
    ...properties({
      required: experiment.required,
      weight: experiment.weight,
      verdict: experiment.status,
      runId: experiment.runId,
      journal: experiment.journal,
    }).map((line) => `    ${line}`),
    '  </properties>',
  ];
  const message = failureMessage(experiment);
  switch (experiment.status) {
    case 'passed':
      break;
    case 'failed':
    case 'aborted':
      lines.push(
        `  <failure${attributes({ message, type: experiment.status })}>${text(details(experiment))}</failure>`,
      );
      break;
    case 'error':
      lines.push(
        `  <error${attributes({ message, type: experiment.error?.code ?? 'error' })}>${text(details(experiment))}</error>`,
      );
      break;
    case 'skipped':
      lines.push(`  <skipped${attributes({ message: experiment.reason })}/>`);
      break;
  }
  lines.push('</testcase>');
  return lines;
}

/** The body of a failure: the verdict's reason, each probe that missed, and where to read more. */
function details(experiment: ExperimentResult): string {
  const lines = [`${experiment.status}: ${experiment.reason}`];
  for (const failure of experiment.failures) lines.push(`  ${describeFailure(failure)}`);
  if (experiment.required === false) lines.push('not required: counts only towards the score');
  if (experiment.runId !== undefined) lines.push(`run: ${experiment.runId}`);
  if (experiment.journal !== undefined) lines.push(`journal: ${experiment.journal}`);
  return lines.join('\n');
}

function experimentsOf(suite: SuiteReport): ExperimentResult[] {
  return suite.steps.filter((step) => step.type === 'experiment');
}

function counts(experiments: readonly ExperimentResult[]): Record<string, number> {
  const count = (status: ExperimentResult['status'] | ExperimentResult['status'][]) =>
    experiments.filter((experiment) => [status].flat().includes(experiment.status)).length;
  return { failures: count(['failed', 'aborted']), errors: count('error'), skipped: count('skipped') };
}

function properties(values: Record<string, string | number | boolean | undefined>): string[] {
  return Object.entries(values)
    .filter((entry): entry is [string, string | number | boolean] => entry[1] !== undefined)
    .map(([name, value]) => `<property${attributes({ name, value })}/>`);
}

function seconds(ms: number): string {
  return (Math.max(0, ms) / 1_000).toFixed(3);
}

function attributes(values: Record<string, string | number | boolean | undefined>): string {
  return Object.entries(values)
    .filter(([, value]) => value !== undefined)
    .map(([key, value]) => ` ${key}="${attribute(String(value))}"`)
    .join('');
}

/** Characters XML 1.0 cannot hold at all, even escaped; probe errors can carry them. */
// biome-ignore lint/suspicious/noControlCharactersInRegex: these are exactly the characters to remove
const NOT_XML = /[\u0000-\u0008\u000b\u000c\u000e-\u001f\ufffe\uffff]/g;

export function text(value: string): string {
  return value.replace(NOT_XML, '\ufffd').replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');
}

/** Attribute values also keep their quotes and line breaks (a parser would fold them to spaces). */
export function attribute(value: string): string {
  return text(value)
    .replace(/"/g, '&quot;')
    .replace(/'/g, '&apos;')
    .replace(/\n/g, '&#10;')
    .replace(/\r/g, '&#13;')
    .replace(/\t/g, '&#9;');
}
