import { randomUUID } from 'node:crypto';
import { existsSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { type Browser, chromium } from 'playwright-core';
import { PNG } from 'pngjs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { reportColors } from '../../packages/orchestrator/src/reports/probe-chart.js';
import { experimentYaml, runCli, tempWorkspace } from '../helpers/cli.js';
import { type DemoSystem, startDemoSystem } from '../helpers/demo-system.js';

/** Debian's chromium (`apt-get install -y chromium`; .ci/run installs it). */
const CHROMIUM = process.env.SIMIAN_CHROMIUM ?? '/usr/bin/chromium';
const isCI = ['true', '1'].includes((process.env.CI ?? '').toLowerCase());
const haveChromium = existsSync(CHROMIUM);

if (!haveChromium && !isCI) {
  const bar = '!'.repeat(78);
  console.warn(
    [
      '',
      bar,
      `!!  NO CHROMIUM at ${CHROMIUM}: the HTML report browser test is SKIPPED.`,
      '!!  Install it with `apt-get install -y chromium` (or run .ci/run, which does).',
      '!!  CI=true turns this into a failure.',
      bar,
      '',
    ].join('\n'),
  );
}

type Rgb = readonly [number, number, number];

function rgb(hex: string): Rgb {
  const value = Number.parseInt(hex.slice(1), 16);
  return [(value >> 16) & 255, (value >> 8) & 255, value & 255];
}

/** Pixels within a small tolerance of `colour` (anti-aliasing leaves the centres exact). */
function countPixels(png: PNG, colour: Rgb, tolerance = 6): number {
  let count = 0;
  for (let i = 0; i < png.data.length; i += 4) {
    if (
      Math.abs((png.data[i] as number) - colour[0]) <= tolerance &&
      Math.abs((png.data[i + 1] as number) - colour[1]) <= tolerance &&
      Math.abs((png.data[i + 2] as number) - colour[2]) <= tolerance
    )
      count += 1;
  }
  return count;
}

interface ReportedRun {
  runId: string;
  verdict: string;
  reason: string;
  journal: {
    samples: Array<{ probe: string; ok: boolean }>;
    faults: unknown[];
    timeToRecoverMs: number | null;
  };
}

describe.skipIf(!haveChromium && !isCI)('the HTML report in headless Chromium', () => {
  let system: DemoSystem | undefined;
  let workspace: Awaited<ReturnType<typeof tempWorkspace>> | undefined;
  let browser: Browser | undefined;
  let run: ReportedRun;
  let htmlPath: string;

  beforeAll(async () => {
    if (!haveChromium) {
      throw new Error(
        `CI=true requires Chromium at ${CHROMIUM} for the HTML report test (.ci/run installs it)`,
      );
    }
    const app = `html-${randomUUID().slice(0, 8)}`;
    system = await startDemoSystem({ lbPort: 0, app });
    workspace = await tempWorkspace('html-report');
    const env = { SIMIAN_STATE_DIR: join(workspace.dir, 'state') };
    // Every replica frozen for 2s under a 300ms probe timeout: failed samples during the fault,
    // then recovery. successRate 0 keeps the verdict `passed` so the run always completes.
    const file = await workspace.write(
      'pause.yaml',
      experimentYaml({
        name: 'html-pause-all',
        driver: 'process',
        labels: { app },
        mode: 'all',
        fault: 'type: pause',
        duration: '2s',
        probeUrl: `${system.lbUrl.replace(/\/$/, '')}/health`,
        before: '1s',
        successRate: 0,
      }).replace('timeout: 1s', 'timeout: 300ms'),
    );
    const result = await runCli(['run', file, '--json'], { env });
    expect(result.code, result.stderr).toBe(0);
    const runId = (JSON.parse(result.stdout) as { runId: string }).runId;
    htmlPath = join(workspace.dir, 'report.html');
    const report = await runCli(['report', runId, '--html', htmlPath, '--json'], { env });
    expect(report.code, report.stderr).toBe(0);
    run = JSON.parse(report.stdout) as ReportedRun;
    browser = await chromium.launch({
      executablePath: CHROMIUM,
      args: [
        '--no-sandbox',
        '--disable-gpu',
        '--disable-quic',
        '--no-first-run',
        '--disable-background-networking',
        '--disable-component-update',
        '--disable-sync',
      ],
    });
  }, 120_000);

  afterAll(async () => {
    await browser?.close();
    await system?.stop();
    await workspace?.cleanup();
  });

  it('renders the verdict first and a chart with one point per sample, shaded fault windows and recovery', async () => {
    const context = await (browser as Browser).newContext({ viewport: { width: 1200, height: 900 } });
    const page = await context.newPage();
    const requests: string[] = [];
    page.on('request', (request) => requests.push(request.url()));
    const url = pathToFileURL(htmlPath).href;
    await page.goto(url);

    // Nothing but the file itself was loaded.
    expect(requests).toEqual([url]);
    expect(await page.locator('header .badge').first().textContent()).toBe('PASSED');
    expect(await page.locator('header .reason').first().textContent()).toBe(run.reason);

    const chart = page.locator('svg.chart[data-probe="web-up"]');
    const samples = run.journal.samples.filter((sample) => sample.probe === 'web-up');
    const failed = samples.filter((sample) => !sample.ok).length;
    expect(failed).toBeGreaterThan(0);
    expect(await chart.locator('.sample').count()).toBe(samples.length);
    expect(await chart.locator('.sample.failed').count()).toBe(failed);
    expect(await chart.locator('rect.fault-window').count()).toBe(run.journal.faults.length);
    const window = await chart.locator('rect.fault-window').first().boundingBox();
    expect(window?.width).toBeGreaterThan(50);
    expect(run.journal.timeToRecoverMs).not.toBeNull();
    expect(await chart.locator('line.recovered').count()).toBe(1);
    // Points lie inside the plot (the browser laid them out, not only parsed them).
    const box = await chart.boundingBox();
    const point = await chart.locator('.sample.ok').first().boundingBox();
    if (!box || !point) throw new Error('chart not laid out');
    expect(point.x).toBeGreaterThan(box.x);
    expect(point.x + point.width).toBeLessThan(box.x + box.width);

    // The screenshot: the chart's pixels carry the sample line, the failed marks and the shading;
    // the verdict header has none of them, which shows the colour check tells things apart.
    const chartShot = PNG.sync.read(await chart.screenshot());
    expect(countPixels(chartShot, rgb(reportColors.sample))).toBeGreaterThan(100);
    expect(countPixels(chartShot, rgb(reportColors.failed))).toBeGreaterThan(10);
    expect(countPixels(chartShot, rgb(reportColors.faultWindow))).toBeGreaterThan(2_000);
    expect(countPixels(chartShot, rgb(reportColors.recovered))).toBeGreaterThan(50);
    const headerShot = PNG.sync.read(await page.locator('header').first().screenshot());
    expect(countPixels(headerShot, rgb(reportColors.sample))).toBe(0);
    expect(countPixels(headerShot, rgb(reportColors.faultWindow))).toBe(0);

    // A full-page screenshot for whoever looks at the test's output.
    await page.screenshot({ path: join(workspace?.dir ?? tmpdir(), 'report.png'), fullPage: true });
    expect((await readFile(join(workspace?.dir ?? tmpdir(), 'report.png'))).length).toBeGreaterThan(10_000);
    await context.close();
  });
});
