import { describe, expect, it } from 'vitest';
import { makeJournal } from '../../../../test/helpers/journal-fixture.js';
import { renderGameDayHtml, renderRunDetailHtml, renderRunHtml } from './html-report.js';
import { reportColors } from './probe-chart.js';

/** The SVG of one probe's chart. */
function chartOf(html: string, probe: string): string {
  const start = html.indexOf(`<svg class="chart" data-probe="${probe}"`);
  expect(start, `chart of ${probe}`).toBeGreaterThanOrEqual(0);
  return html.slice(start, html.indexOf('</svg>', start));
}

const count = (text: string, needle: string | RegExp): number =>
  typeof needle === 'string' ? text.split(needle).length - 1 : [...text.matchAll(needle)].length;

describe('renderRunHtml', () => {
  it('puts the verdict and its reason first, then a chart per probe with one point per sample', () => {
    const journal = makeJournal({ probes: ['web-up', 'api-up'] });
    const html = renderRunHtml(journal, { source: 'embedded' });
    const body = html.slice(html.indexOf('<body>'));
    expect(body.indexOf('PASSED')).toBeLessThan(body.indexOf('<svg'));
    expect(body).toContain(`<p class="reason">${journal.reason}</p>`);
    for (const probe of ['web-up', 'api-up']) {
      const chart = chartOf(html, probe);
      const samples = journal.samples.filter((sample) => sample.probe === probe);
      const failed = samples.filter((sample) => !sample.ok).length;
      expect(failed).toBeGreaterThan(0);
      expect(count(chart, 'class="sample ok"')).toBe(samples.length - failed);
      expect(count(chart, 'class="sample failed"')).toBe(failed);
      expect(count(chart, `stroke="${reportColors.failed}"`)).toBe(failed);
      expect(count(chart, 'class="fault-window"')).toBe(1);
      expect(chart).toContain(`fill="${reportColors.faultWindow}"`);
      expect(chart).toContain('recovered in 400ms');
    }
  });

  it('shades each fault from injection to revert and marks recovery after the last revert', () => {
    const journal = makeJournal();
    const html = renderRunHtml(journal);
    const chart = chartOf(html, 'web-up');
    const rect = /<rect class="fault-window" x="([\d.]+)" y="[\d.]+" width="([\d.]+)"/.exec(chart);
    const recovered = /<line class="recovered" x1="([\d.]+)"/.exec(chart);
    const fault = journal.faults[0];
    if (!rect || !recovered || fault?.injectedAt === undefined || fault.revertedAt === undefined)
      throw new Error('missing chart parts');
    // 60 px left margin, 884 px of plot for the run's span.
    const span = journal.endedAt - journal.startedAt;
    const px = (at: number) => 60 + ((at - journal.startedAt) / span) * 884;
    expect(Number(rect[1])).toBeCloseTo(px(fault.injectedAt), 0);
    expect(Number(rect[1]) + Number(rect[2])).toBeCloseTo(px(fault.revertedAt), 0);
    expect(Number(recovered[1])).toBeCloseTo(px(fault.revertedAt + 400), 0);
    expect(html).toContain('latency(delay=200ms, jitter=0ms, direction=inbound, ports=[8080])');
    expect(html).toContain('mechanism: proxy+nftables');
  });

  it('escapes every text from the journal, and loads nothing from anywhere', () => {
    const journal = makeJournal({
      experiment: '<img src=x onerror=alert(1)>',
      reason: 'a "quoted" & <b>bold</b> reason',
    });
    const html = renderRunHtml(journal);
    expect(html).not.toContain('<script');
    expect(html).not.toContain('<img');
    expect(html).not.toContain('<b>bold</b>');
    expect(html).toContain('&lt;img src=x onerror=alert(1)&gt;');
    expect(html).toContain('a &quot;quoted&quot; &amp; &lt;b&gt;bold&lt;/b&gt; reason');
    // The fixture's fault detail carries a script tag.
    expect(html).toContain('proxy on :8080 &lt;script&gt;alert(1)&lt;/script&gt;');
    expect(html).toMatch(
      /<meta http-equiv="Content-Security-Policy" content="default-src 'none'; style-src 'unsafe-inline'">/,
    );
    expect(html).not.toMatch(/\b(?:src|href)="(?!#)/);
    expect(html).not.toMatch(/url\(|@import|@font-face/);
    expect(html.match(/https?:\/\/[^"\s<]*/g) ?? []).toEqual(
      Array(count(html, 'xmlns="http://www.w3.org/2000/svg"')).fill('http://www.w3.org/2000/svg'),
    );
  });

  it('marks a kill (nothing to revert) for the experiment duration, and says when recovery was not measured', () => {
    const base = makeJournal({ verdict: 'failed', reason: 'steady state did not come back within 5s' });
    const fault = base.faults[0];
    if (!fault) throw new Error('fixture has a fault');
    const journal = {
      ...base,
      timeToRecoverMs: null,
      faults: [
        {
          ...fault,
          fault: { type: 'kill' as const, signal: 'SIGKILL' as const },
          revertedAt: undefined,
          revertOutcome: 'nothing-to-revert',
        },
      ],
    };
    const html = renderRunHtml(journal);
    expect(html).toContain('kill(signal=SIGKILL) on web-1');
    expect(html).toContain('nothing to revert; shaded for the experiment duration');
    expect(html).not.toContain('class="recovered"');
    expect(html).toContain('<dt>time to recover</dt><dd>not measured</dd>');
    expect(html).toContain('<span class="badge v-failed">FAILED</span>');
  });

  it('renders a run without a journal (still running, or abandoned) from its record', () => {
    const html = renderRunDetailHtml({
      runId: 'r1',
      experiment: 'kill-one',
      source: 'api',
      verdict: 'aborted',
      reason: 'the orchestrator stopped during the run (found on restart)',
      startedAt: Date.UTC(2026, 10, 22),
    });
    expect(html).toContain('<span class="badge v-aborted">ABORTED</span>');
    expect(html).toContain('the orchestrator stopped during the run (found on restart)');
    expect(html).toContain('no samples to show');
  });
});

describe('renderGameDayHtml', () => {
  it('shows the score and every step, and each run with its charts, linked from its step', () => {
    const first = makeJournal({ runId: 'gd-1', experiment: 'kill-web' });
    const second = makeJournal({
      runId: 'gd-2',
      experiment: 'latency-db',
      verdict: 'failed',
      reason: 'p95 over',
    });
    const html = renderGameDayHtml({
      summary: {
        name: 'storefront <q3>',
        score: 50,
        minScore: 80,
        passed: false,
        reason: 'score 50 is below the minimum 80',
        steps: [
          { name: 'kill a web replica', status: 'passed', runId: 'gd-1' },
          { name: 'wait for the on-call', status: 'approved', detail: 'approved by alice' },
          { name: 'slow the database', status: 'failed', runId: 'gd-2' },
          { name: 'zone outage', status: 'skipped', detail: 'stopped after a failure' },
        ],
      },
      runs: [first, second],
    });
    expect(html).toContain('<span class="badge v-failed">FAILED</span><h1>storefront &lt;q3&gt;</h1>');
    expect(html).toContain('<dt>score</dt><dd>50 (minimum 80)</dd>');
    expect(count(html, /<tr><td>\d+<\/td>/g)).toBe(4);
    expect(html).toContain('<a href="#run-gd-1">gd-1</a>');
    expect(html).toContain('<section class="run" id="run-gd-2">');
    expect(html).toContain('<span class="badge v-skipped">skipped</span>');
    expect(count(html, '<svg class="chart"')).toBe(2);
  });
});
