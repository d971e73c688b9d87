import { formatDuration } from '@simian/protocol';
import { z } from 'zod';
import { describeFault } from '../cli/progress.js';
import type { RunDetail } from '../history/run-history.js';
import type { Journal, Judgement } from '../runner/journal.js';
import { escapeHtml as esc } from './html-escape.js';
import { probeChart, reportColors } from './probe-chart.js';
import { type FaultWindow, faultWindows, offset, recoveryMarks, runSpan } from './run-timeline.js';

/** One step of a game day as its report shows it. */
export const gameDayStepSchema = z.strictObject({
  name: z.string(),
  /** `passed`, `failed`, `aborted`, `error`, `skipped`, `pending`, `approved`, `rejected`, ... */
  status: z.string(),
  /** The step's run, when it ran an experiment; its journal is among the report's runs. */
  runId: z.string().optional(),
  /** One line of context: why it was skipped, who approved, how long the pause was. */
  detail: z.string().optional(),
});
export type GameDayStep = z.infer<typeof gameDayStepSchema>;

/** What `renderGameDayHtml` shows above the runs. Times are epoch milliseconds. */
export const gameDaySummarySchema = z.strictObject({
  name: z.string(),
  description: z.string().optional(),
  startedAt: z.number().optional(),
  endedAt: z.number().optional(),
  /** 0 to 100. */
  score: z.number(),
  /** The policy's minimum score, when it has one. */
  minScore: z.number().optional(),
  passed: z.boolean(),
  /** Why it passed or failed, one sentence. */
  reason: z.string().optional(),
  steps: z.array(gameDayStepSchema),
});
export type GameDaySummary = z.infer<typeof gameDaySummarySchema>;

/** The input of {@link renderGameDayHtml}: the summary and the journals of the runs it made. */
export interface GameDayReport {
  summary: GameDaySummary;
  runs: Journal[];
}

/**
 * One run as a self-contained HTML page: inline CSS and SVG, no scripts, nothing fetched (its
 * Content-Security-Policy forbids it), so it opens anywhere, offline, from a file or a CI artifact.
 */
export function renderRunHtml(journal: Journal, options: { source?: string } = {}): string {
  const title = `${journal.experiment.name}: ${journal.verdict.toUpperCase()}`;
  return page(
    `simian run ${journal.runId} — ${title}`,
    `${verdictHeader(journal.verdict, journal.reason, `<h1>${esc(journal.experiment.name)}</h1>`, runFacts(journal, options.source))}
<main>${runBody(journal, 'h2')}</main>`,
  );
}

/** A run from the history: the full report when it has a journal, else its record alone. */
export function renderRunDetailHtml(run: RunDetail): string {
  if (run.journal !== undefined) return renderRunHtml(run.journal, { source: run.source });
  const facts: Array<[string, string]> = [
    ['run', run.runId],
    ['file', run.file ?? '-'],
    ['source', run.source],
    ['started', iso(run.startedAt)],
    ['ended', run.endedAt === undefined ? '-' : iso(run.endedAt)],
  ];
  const note =
    run.verdict === 'running'
      ? 'The run is still going: its journal is recorded when it ends.'
      : 'This run ended without a journal, so there are no samples to show.';
  return page(
    `simian run ${run.runId} — ${run.experiment}: ${run.verdict.toUpperCase()}`,
    `${verdictHeader(run.verdict, run.reason || note, `<h1>${esc(run.experiment)}</h1>`, facts)}
<main><section><p class="note">${esc(note)}</p></section></main>`,
  );
}

/** A game day as one page: score and steps at the top, then every run as in {@link renderRunHtml}. */
export function renderGameDayHtml(report: GameDayReport): string {
  const summary = gameDaySummarySchema.parse(report.summary);
  const verdict = summary.passed ? 'passed' : 'failed';
  const facts: Array<[string, string]> = [
    [
      'score',
      `${formatScore(summary.score)}${summary.minScore === undefined ? '' : ` (minimum ${formatScore(summary.minScore)})`}`,
    ],
    ['steps', String(summary.steps.length)],
    ['runs', String(report.runs.length)],
  ];
  if (summary.startedAt !== undefined) facts.push(['started', iso(summary.startedAt)]);
  if (summary.endedAt !== undefined) facts.push(['ended', iso(summary.endedAt)]);
  if (summary.startedAt !== undefined && summary.endedAt !== undefined)
    facts.push(['duration', formatDuration(summary.endedAt - summary.startedAt)]);
  const runIds = new Set(report.runs.map((run) => run.runId));
  const steps = summary.steps
    .map((step, index) => {
      const run =
        step.runId === undefined
          ? '-'
          : runIds.has(step.runId)
            ? `<a href="#run-${esc(step.runId)}">${esc(step.runId)}</a>`
            : esc(step.runId);
      return `<tr><td>${index + 1}</td><td>${esc(step.name)}</td><td>${badge(step.status)}</td><td class="mono">${run}</td><td>${esc(step.detail ?? '')}</td></tr>`;
    })
    .join('');
  const runs = report.runs
    .map(
      (journal) => `<section class="run" id="run-${esc(journal.runId)}">
${verdictHeader(journal.verdict, journal.reason, `<h2>${esc(journal.experiment.name)}</h2>`, runFacts(journal))}
${runBody(journal, 'h3')}
</section>`,
    )
    .join('\n');
  return page(
    `simian game day ${summary.name} — ${verdict.toUpperCase()} (score ${formatScore(summary.score)})`,
    `${verdictHeader(verdict, summary.reason ?? `score ${formatScore(summary.score)}`, `<h1>${esc(summary.name)}</h1>${summary.description ? `<p class="description">${esc(summary.description)}</p>` : ''}`, facts)}
<main>
<section><h2>Steps</h2>
<table class="steps"><thead><tr><th>#</th><th>step</th><th>status</th><th>run</th><th>detail</th></tr></thead><tbody>${steps}</tbody></table>
</section>
${runs}
</main>`,
  );
}

function runFacts(journal: Journal, source?: string): Array<[string, string]> {
  const facts: Array<[string, string]> = [
    ['run', journal.runId],
    ['file', journal.experiment.file ?? '-'],
    ['started', iso(journal.startedAt)],
    ['duration', formatDuration(journal.endedAt - journal.startedAt)],
    [
      'time to recover',
      journal.timeToRecoverMs === null ? 'not measured' : formatDuration(journal.timeToRecoverMs),
    ],
    ['targets', `${journal.targets.length} of ${journal.candidates} matching`],
    ['seed', String(journal.seed)],
  ];
  if (source !== undefined) facts.push(['source', source]);
  if (journal.error !== undefined) facts.push(['error', `${journal.error.code}: ${journal.error.message}`]);
  return facts;
}

function runBody(journal: Journal, heading: 'h2' | 'h3'): string {
  const span = runSpan(journal);
  const windows = faultWindows(journal);
  const sections: string[] = [];
  if (journal.experiment.description)
    sections.push(`<p class="description">${esc(journal.experiment.description)}</p>`);
  sections.push(`<section><${heading}>Timeline</${heading}>${timeline(journal, span, windows)}</section>`);
  const probes = journal.probes.map((probe) => {
    const judgements = (['before', 'during', 'after'] as const)
      .map((phase) => judgementRow(phase, probe[phase]))
      .join('');
    return `<div class="probe"><${heading === 'h2' ? 'h3' : 'h4'}>${esc(probe.name)}</${heading === 'h2' ? 'h3' : 'h4'}>
${probeChart(journal, probe.name, span, windows)}
${legend()}
<table class="judgements"><thead><tr><th>phase</th><th>held</th><th>samples</th><th>success</th><th>p50</th><th>p95</th><th>p99</th><th>why</th></tr></thead><tbody>${judgements}</tbody></table>
</div>`;
  });
  sections.push(
    `<section><${heading}>Probes</${heading}>${probes.length > 0 ? probes.join('\n') : '<p class="note">no probes</p>'}</section>`,
  );
  if (journal.stopCondition) {
    const stop = journal.stopCondition;
    sections.push(
      `<section><${heading}>Stop condition</${heading}><p>${esc(`${stop.probe} fell to a success rate of ${Math.round(stop.successRate * 100)}% at ${offset(stop.at, journal.startedAt)}: the run was aborted and every fault reverted at once.`)}</p></section>`,
    );
  }
  sections.push(`<section><${heading}>Faults</${heading}>${faultsTable(journal)}</section>`);
  sections.push(`<section><${heading}>Targets</${heading}>${targetsTable(journal)}</section>`);
  sections.push(`<section><${heading}>Phases</${heading}>${phasesTable(journal)}</section>`);
  return sections.join('\n');
}

function verdictHeader(
  verdict: string,
  reason: string,
  title: string,
  facts: Array<[string, string]>,
): string {
  const dl = facts.map(([term, value]) => `<div><dt>${esc(term)}</dt><dd>${esc(value)}</dd></div>`).join('');
  return `<header class="verdict v-${esc(verdict)}">
<div class="headline"><span class="badge v-${esc(verdict)}">${esc(verdict.toUpperCase())}</span>${title}</div>
<p class="reason">${esc(reason)}</p>
<dl class="facts">${dl}</dl>
</header>`;
}

function timeline(journal: Journal, span: { from: number; to: number }, windows: FaultWindow[]): string {
  const width = 960;
  const left = 60;
  const right = 16;
  const plot = width - left - right;
  const x = (at: number): number => left + ((at - span.from) / (span.to - span.from)) * plot;
  const parts: string[] = [];
  journal.phases.forEach((phase, index) => {
    const from = x(phase.startedAt);
    const to = x(phase.endedAt ?? journal.endedAt);
    parts.push(
      `<rect class="phase p-${esc(phase.name)}" x="${from.toFixed(1)}" y="4" width="${Math.max(to - from, 1).toFixed(1)}" height="22" fill="${index % 2 === 0 ? '#e5e7eb' : '#d1d5db'}"><title>${esc(`${phase.name}: ${offset(phase.startedAt, span.from)} to ${offset(phase.endedAt ?? journal.endedAt, span.from)}`)}</title></rect>`,
    );
    if (to - from > 34)
      parts.push(`<text class="phase-label" x="${(from + 4).toFixed(1)}" y="19">${esc(phase.name)}</text>`);
  });
  windows.forEach((window, index) => {
    const from = x(window.from);
    const to = x(window.to);
    const y = 32 + (index % 4) * 8;
    parts.push(
      `<rect class="timeline-fault" x="${from.toFixed(1)}" y="${y}" width="${Math.max(to - from, 2).toFixed(1)}" height="6" fill="${reportColors.faultWindow}" stroke="#d97706" stroke-width="0.5"><title>${esc(`${window.label} on ${window.target}`)}</title></rect>`,
    );
  });
  const recovery = recoveryMarks(journal);
  if (recovery?.recoveredAt !== undefined) {
    const rx = x(recovery.recoveredAt).toFixed(1);
    parts.push(
      `<line class="recovered" x1="${rx}" x2="${rx}" y1="2" y2="66" stroke="${reportColors.recovered}" stroke-width="2"><title>${esc(`recovered ${offset(recovery.recoveredAt, span.from)}`)}</title></line>`,
    );
  }
  parts.push(
    `<text class="tick" x="${left}" y="80">${esc(iso(span.from))}</text>`,
    `<text class="tick" x="${width - right}" y="80" text-anchor="end">${esc(offset(span.to, span.from))}</text>`,
  );
  return `<svg class="timeline" viewBox="0 0 ${width} 86" width="${width}" height="86" role="img" aria-label="phases and fault windows" xmlns="http://www.w3.org/2000/svg">${parts.join('')}</svg>`;
}

function legend(): string {
  return `<p class="legend"><span><i style="background:${reportColors.sample};border-radius:50%"></i>ok sample</span><span><b style="color:${reportColors.failed}">✕</b>failed sample</span><span><i style="background:${reportColors.faultWindow}"></i>fault window (inject → revert)</span><span><i style="background:${reportColors.recovered};width:3px"></i>steady state back (time to recover)</span></p>`;
}

function judgementRow(phase: string, judgement: Judgement | undefined): string {
  if (judgement === undefined)
    return `<tr class="missing"><td>${phase}</td><td colspan="7">not judged</td></tr>`;
  const ms = (value: number | undefined): string =>
    value === undefined ? '-' : formatDuration(Math.round(value));
  return `<tr><td>${phase}</td><td>${badge(judgement.ok ? 'passed' : 'failed', judgement.ok ? 'yes' : 'no')}</td><td>${judgement.samples}</td><td>${(judgement.successRate * 100).toFixed(1)}%</td><td>${ms(judgement.p50)}</td><td>${ms(judgement.p95)}</td><td>${ms(judgement.p99)}</td><td>${esc(judgement.reason ?? '')}</td></tr>`;
}

function faultsTable(journal: Journal): string {
  if (journal.faults.length === 0) return '<p class="note">no fault was injected</p>';
  const rows = journal.faults
    .map((record) => {
      const at = (value: number | undefined): string =>
        value === undefined ? '-' : offset(value, journal.startedAt);
      const details = [
        record.mechanism ? `mechanism: ${record.mechanism}` : undefined,
        record.detail,
        record.revertDetail ? `revert: ${record.revertDetail}` : undefined,
        record.error ? `error: ${record.error}` : undefined,
      ].filter((part) => part !== undefined);
      return `<tr><td class="mono">${esc(describeFault(record.fault))}</td><td>${esc(record.target.name)}</td><td>${esc(record.agent)}</td><td>${at(record.injectedAt)}</td><td>${at(record.revertedAt)}</td><td>${esc(record.revertOutcome ?? '-')}${record.revertReason ? ` <span class="dim">(${esc(record.revertReason)})</span>` : ''}</td><td>${details.map((part) => `<div>${esc(part)}</div>`).join('')}</td></tr>`;
    })
    .join('');
  return `<table class="faults"><thead><tr><th>fault</th><th>target</th><th>agent</th><th>injected</th><th>reverted</th><th>outcome</th><th>how</th></tr></thead><tbody>${rows}</tbody></table>`;
}

function targetsTable(journal: Journal): string {
  if (journal.targets.length === 0) return '<p class="note">no target was chosen</p>';
  const rows = journal.targets
    .map((target) => {
      const labels = Object.entries(target.labels)
        .map(([key, value]) => `${key}=${value}`)
        .join(', ');
      return `<tr><td>${esc(target.name)}</td><td>${esc(target.driver)}</td><td class="mono">${esc(target.id)}</td><td>${esc(target.agent)}</td><td>${esc(target.zone ?? '-')}</td><td class="mono">${esc(labels)}</td></tr>`;
    })
    .join('');
  return `<table><thead><tr><th>target</th><th>driver</th><th>id</th><th>agent</th><th>zone</th><th>labels</th></tr></thead><tbody>${rows}</tbody></table>`;
}

function phasesTable(journal: Journal): string {
  const rows = journal.phases
    .map((phase) => {
      const end = phase.endedAt;
      return `<tr><td>${esc(phase.name)}</td><td>${offset(phase.startedAt, journal.startedAt)}</td><td>${end === undefined ? '-' : offset(end, journal.startedAt)}</td><td>${end === undefined ? '-' : formatDuration(end - phase.startedAt)}</td></tr>`;
    })
    .join('');
  return `<table class="phases"><thead><tr><th>phase</th><th>from</th><th>to</th><th>took</th></tr></thead><tbody>${rows}</tbody></table>`;
}

function badge(status: string, text = status): string {
  return `<span class="badge v-${esc(status.replace(/[^a-z-]/gi, ''))}">${esc(text)}</span>`;
}

function formatScore(score: number): string {
  return Number.isInteger(score) ? String(score) : score.toFixed(1);
}

function iso(ms: number): string {
  return new Date(ms).toISOString().replace(/\.\d{3}Z$/, 'Z');
}

const CSS = `
:root { color-scheme: light; }
* { box-sizing: border-box; }
body { margin: 0; font: 14px/1.45 system-ui, -apple-system, "Segoe UI", Roboto, "Helvetica Neue", Arial, sans-serif; color: #111827; background: #fff; }
header.verdict { padding: 18px 28px 14px; border-bottom: 4px solid #9ca3af; background: #f9fafb; }
header.verdict.v-passed { border-color: #16a34a; background: #f0fdf4; }
header.verdict.v-failed { border-color: #dc2626; background: #fef2f2; }
header.verdict.v-aborted { border-color: #d97706; background: #fffbeb; }
header.verdict.v-error { border-color: #9333ea; background: #faf5ff; }
.headline { display: flex; align-items: center; gap: 14px; }
h1 { font-size: 22px; margin: 0; }
h2 { font-size: 18px; margin: 22px 0 8px; }
h3, h4 { font-size: 15px; margin: 14px 0 6px; }
.reason { font-size: 16px; margin: 8px 0 10px; }
.facts { display: flex; flex-wrap: wrap; gap: 6px 22px; margin: 0; }
.facts div { display: flex; gap: 6px; }
.facts dt { color: #6b7280; }
.facts dd { margin: 0; font-variant-numeric: tabular-nums; }
main { padding: 4px 28px 28px; }
section.run { border-top: 1px solid #d1d5db; margin-top: 26px; }
.badge { display: inline-block; padding: 2px 9px; border-radius: 4px; font-weight: 700; font-size: 13px; color: #fff; background: #6b7280; }
.badge.v-passed, .badge.v-approved { background: #16a34a; }
.badge.v-failed, .badge.v-rejected { background: #dc2626; }
.badge.v-aborted { background: #d97706; }
.badge.v-error { background: #9333ea; }
.badge.v-running, .badge.v-pending { background: #2563eb; }
header .badge { font-size: 18px; padding: 4px 12px; }
table { border-collapse: collapse; margin: 6px 0 10px; }
th, td { border-bottom: 1px solid #e5e7eb; padding: 4px 10px 4px 0; text-align: left; vertical-align: top; }
th { color: #6b7280; font-weight: 600; }
.mono { font-family: ui-monospace, SFMono-Regular, Menlo, Consolas, monospace; font-size: 12.5px; }
.dim, .note { color: #6b7280; }
svg { display: block; max-width: 100%; height: auto; }
svg text { font: 11px system-ui, -apple-system, "Segoe UI", Roboto, Arial, sans-serif; fill: #4b5563; }
svg .fault-label { fill: #92400e; font-weight: 600; }
svg .recovered-label { fill: ${reportColors.recovered}; font-weight: 600; }
svg .phase-label { fill: #111827; }
svg .grid { stroke: #e5e7eb; stroke-width: 1; }
svg .axis { stroke: #6b7280; stroke-width: 1; }
.legend { display: flex; flex-wrap: wrap; gap: 16px; margin: 4px 0 8px; color: #4b5563; font-size: 12.5px; }
.legend i { display: inline-block; width: 12px; height: 12px; margin-right: 5px; vertical-align: -1px; }
.legend b { margin-right: 5px; }
footer { padding: 10px 28px 20px; color: #9ca3af; font-size: 12px; }
`;

function page(title: string, body: string): string {
  return `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta http-equiv="Content-Security-Policy" content="default-src 'none'; style-src 'unsafe-inline'">
<title>${esc(title)}</title>
<style>${CSS}</style>
</head>
<body>
${body}
<footer>simian report · self-contained: no scripts, nothing loaded from the network · times in UTC</footer>
</body>
</html>
`;
}
