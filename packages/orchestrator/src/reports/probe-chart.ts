import { formatDuration } from '@simian/protocol';
import type { Journal } from '../runner/journal.js';
import { escapeHtml as esc } from './html-escape.js';
import { type FaultWindow, offset, recoveryMarks } from './run-timeline.js';

/** The colours a reader (and the screenshot test) finds in every chart. */
export const reportColors = {
  /** The latency line and successful samples. */
  sample: '#2563eb',
  /** Failed samples. */
  failed: '#dc2626',
  /** Fault windows, opaque so overlapping windows keep one colour. */
  faultWindow: '#fcd9a8',
  /** Steady state back: the time-to-recover marker. */
  recovered: '#16a34a',
} as const;

const WIDTH = 960;
const HEIGHT = 240;
const MARGIN = { left: 60, right: 16, top: 22, bottom: 34 };
const PLOT_W = WIDTH - MARGIN.left - MARGIN.right;
const PLOT_H = HEIGHT - MARGIN.top - MARGIN.bottom;

type Sample = Journal['samples'][number];

/**
 * One probe's latency over the run as inline SVG: a point per sample (failed ones as red
 * crosses), the line through them, each fault window shaded, and the recovery marked.
 */
export function probeChart(
  journal: Journal,
  probe: string,
  span: { from: number; to: number },
  windows: FaultWindow[],
): string {
  const samples = journal.samples.filter((sample) => sample.probe === probe).sort((a, b) => a.at - b.at);
  const maxLatency = samples.reduce((max, sample) => Math.max(max, sample.latencyMs), 0);
  const yStep = niceStep(Math.max(maxLatency * 1.1, 10) / 4);
  const yMax = Math.max(yStep * Math.ceil((maxLatency * 1.05) / yStep), yStep);
  const x = (at: number): number => MARGIN.left + ((at - span.from) / (span.to - span.from)) * PLOT_W;
  const y = (ms: number): number => MARGIN.top + PLOT_H - (Math.min(ms, yMax) / yMax) * PLOT_H;
  const parts: string[] = [];

  for (const window of windows) {
    const left = x(window.from);
    const width = Math.max(x(window.to) - left, 2);
    const title = `${window.label} on ${window.target}: ${offset(window.from, span.from)} to ${offset(window.to, span.from)}${window.instantaneous ? ' (nothing to revert; shaded for the experiment duration)' : ''}${window.unreverted ? ' (no revert seen)' : ''}`;
    parts.push(
      `<rect class="fault-window" x="${f(left)}" y="${MARGIN.top}" width="${f(width)}" height="${PLOT_H}" fill="${reportColors.faultWindow}"><title>${esc(title)}</title></rect>`,
    );
  }
  // One label per cluster: faults injected together on several targets start a pixel apart.
  const labelledAt: number[] = [];
  for (const window of windows) {
    if (labelledAt.some((at) => Math.abs(at - x(window.from)) < 60)) continue;
    labelledAt.push(x(window.from));
    parts.push(
      `<text class="fault-label" x="${f(x(window.from) + 4)}" y="${MARGIN.top + 12}">${esc(window.label.split('(')[0])}</text>`,
    );
  }

  for (let tick = 0; tick <= yMax + 1e-9; tick += yStep) {
    const ty = y(tick);
    parts.push(
      `<line class="grid" x1="${MARGIN.left}" x2="${WIDTH - MARGIN.right}" y1="${f(ty)}" y2="${f(ty)}"/>`,
      `<text class="tick" x="${MARGIN.left - 6}" y="${f(ty + 4)}" text-anchor="end">${esc(formatDuration(tick))}</text>`,
    );
  }
  const xStep = niceStep((span.to - span.from) / 8);
  for (let tick = 0; tick <= span.to - span.from; tick += xStep) {
    const tx = x(span.from + tick);
    parts.push(
      `<line class="axis" x1="${f(tx)}" x2="${f(tx)}" y1="${MARGIN.top + PLOT_H}" y2="${MARGIN.top + PLOT_H + 4}"/>`,
      `<text class="tick" x="${f(tx)}" y="${MARGIN.top + PLOT_H + 16}" text-anchor="middle">${esc(tick === 0 ? '0' : `+${formatDuration(tick)}`)}</text>`,
    );
  }
  parts.push(
    `<line class="axis" x1="${MARGIN.left}" x2="${WIDTH - MARGIN.right}" y1="${MARGIN.top + PLOT_H}" y2="${MARGIN.top + PLOT_H}"/>`,
    `<line class="axis" x1="${MARGIN.left}" x2="${MARGIN.left}" y1="${MARGIN.top}" y2="${MARGIN.top + PLOT_H}"/>`,
    `<text class="axis-title" x="${MARGIN.left - 6}" y="${MARGIN.top - 8}" text-anchor="end">latency</text>`,
    `<text class="axis-title" x="${WIDTH - MARGIN.right}" y="${HEIGHT - 2}" text-anchor="end">time since the run started</text>`,
  );

  if (samples.length > 1) {
    const points = samples.map((sample) => `${f(x(sample.at))},${f(y(sample.latencyMs))}`).join(' ');
    parts.push(
      `<polyline class="sample-line" points="${points}" fill="none" stroke="${reportColors.sample}" stroke-width="1.5"/>`,
    );
  }
  for (const sample of samples) parts.push(samplePoint(sample, x(sample.at), y(sample.latencyMs), span.from));

  const recovery = recoveryMarks(journal);
  if (recovery?.recoveredAt !== undefined) {
    const from = x(recovery.start);
    const to = x(recovery.recoveredAt);
    const mid = MARGIN.top + PLOT_H / 2;
    parts.push(
      `<g class="recovery"><title>${esc(`time to recover: ${formatDuration(journal.timeToRecoverMs ?? 0)}, from ${offset(recovery.start, span.from)} to ${offset(recovery.recoveredAt, span.from)}`)}</title>`,
      `<line class="recovery-span" x1="${f(from)}" x2="${f(to)}" y1="${f(mid)}" y2="${f(mid)}" stroke="${reportColors.recovered}" stroke-width="2"/>`,
      `<line class="recovered" x1="${f(to)}" x2="${f(to)}" y1="${MARGIN.top}" y2="${MARGIN.top + PLOT_H}" stroke="${reportColors.recovered}" stroke-width="3"/>`,
      // Near the right edge the label goes on the left of the marker, where it still fits.
      to > WIDTH - MARGIN.right - 150
        ? `<text class="recovered-label" x="${f(to - 5)}" y="${f(mid - 6)}" text-anchor="end" fill="${reportColors.recovered}">recovered in ${esc(formatDuration(journal.timeToRecoverMs ?? 0))}</text>`
        : `<text class="recovered-label" x="${f(to + 5)}" y="${f(mid - 6)}" fill="${reportColors.recovered}">recovered in ${esc(formatDuration(journal.timeToRecoverMs ?? 0))}</text>`,
      '</g>',
    );
  }
  if (samples.length === 0) {
    parts.push(
      `<text class="empty" x="${WIDTH / 2}" y="${MARGIN.top + PLOT_H / 2}" text-anchor="middle">no samples</text>`,
    );
  }
  const failed = samples.filter((sample) => !sample.ok).length;
  const label = `${probe}: ${samples.length} samples, ${failed} failed, latency up to ${formatDuration(Math.ceil(maxLatency))}`;
  return `<svg class="chart" data-probe="${esc(probe)}" viewBox="0 0 ${WIDTH} ${HEIGHT}" width="${WIDTH}" height="${HEIGHT}" role="img" aria-label="${esc(label)}" xmlns="http://www.w3.org/2000/svg">${parts.join('')}</svg>`;
}

function samplePoint(sample: Sample, px: number, py: number, from: number): string {
  const title = `<title>${esc(`${offset(sample.at, from)} ${sample.phase}: ${sample.ok ? 'ok' : 'failed'} in ${formatDuration(Math.round(sample.latencyMs))}${sample.status === undefined ? '' : `, status ${sample.status}`}${sample.error === undefined ? '' : `, ${sample.error}`}`)}</title>`;
  if (sample.ok) {
    return `<circle class="sample ok" cx="${f(px)}" cy="${f(py)}" r="3" fill="${reportColors.sample}">${title}</circle>`;
  }
  const d = 4;
  return `<path class="sample failed" d="M${f(px - d)} ${f(py - d)}L${f(px + d)} ${f(py + d)}M${f(px - d)} ${f(py + d)}L${f(px + d)} ${f(py - d)}" stroke="${reportColors.failed}" stroke-width="2.5" stroke-linecap="round">${title}</path>`;
}

/** 1, 2 or 5 times a power of ten, at least `raw`. */
function niceStep(raw: number): number {
  const safe = raw > 0 && Number.isFinite(raw) ? raw : 1;
  const magnitude = 10 ** Math.floor(Math.log10(safe));
  const norm = safe / magnitude;
  return (norm <= 1 ? 1 : norm <= 2 ? 2 : norm <= 5 ? 5 : 10) * magnitude;
}

function f(value: number): string {
  return value.toFixed(1);
}
