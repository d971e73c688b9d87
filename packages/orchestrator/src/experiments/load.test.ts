import { readFile } from 'node:fs/promises';
import { join, relative } from 'node:path';
import { SimianError } from '@simian/protocol';
import { describe, expect, test } from 'vitest';
import { formatIssue } from './format-issues.js';
import { collectExperimentFiles, loadExperimentFile, parseExperimentSource, validateFiles } from './load.js';

const here = import.meta.dirname;
const fixtures = join(here, 'fixtures');
const repoRoot = join(here, '..', '..', '..', '..');

/** Parses a fixture under a short relative name, so expected messages read like the CLI's. */
async function fixtureMessages(name: string): Promise<string[]> {
  const file = `fixtures/${name}`;
  const result = parseExperimentSource(await readFile(join(here, file), 'utf8'), file);
  return result.ok ? [] : result.issues.map(formatIssue);
}

describe('invalid experiments name the file, line, column, path and what was expected', () => {
  const cases: [string, string[]][] = [
    [
      'yaml-syntax',
      [
        'fixtures/invalid/yaml-syntax.yaml:8:4: YAML syntax error: All mapping items must start at the same column',
      ],
    ],
    [
      'unknown-field',
      [
        "fixtures/invalid/unknown-field.yaml:8:5: spec.target: unknown field 'selecter' (did you mean 'selector'?)",
      ],
    ],
    [
      'wrong-type',
      [
        'fixtures/invalid/wrong-type.yaml:17:24: spec.steadyState.probes[0].tolerance.successRate: expected number, got string',
        'fixtures/invalid/wrong-type.yaml:19:5: spec.stopWhen: expected list, got mapping',
      ],
    ],
    [
      'bad-duration',
      [
        'fixtures/invalid/bad-duration.yaml:12:13: spec.duration: expected a duration such as 500ms, 30s or 5m, got "30 seconds"',
        'fixtures/invalid/bad-duration.yaml:17:27: spec.steadyState.probes[0].tolerance.p95: expected a duration such as 500ms, 30s or 5m, got "fast"',
      ],
    ],
    [
      'unknown-fault-type',
      [
        "fixtures/invalid/unknown-fault-type.yaml:12:13: spec.faults[1].type: expected one of kill | stop | pause | restart | latency | loss | bandwidth | reset | timeout | partition | zone-outage, got 'explode'",
      ],
    ],
    [
      'unknown-driver',
      [
        "fixtures/invalid/unknown-driver.yaml:7:13: spec.target.driver: expected one of process | docker, got 'vmware'",
      ],
    ],
    [
      'mode-count-zero',
      [
        "fixtures/invalid/mode-count-zero.yaml:10:11: spec.target.mode: count must be at least 1, got 'count:0'",
      ],
    ],
    [
      'mode-percent-150',
      [
        "fixtures/invalid/mode-percent-150.yaml:10:11: spec.target.mode: percent must be from 1 to 100, got 'percent:150'",
      ],
    ],
    [
      'missing-probes-empty',
      [
        'fixtures/invalid/missing-probes-empty.yaml:13:13: spec.steadyState.probes: an experiment needs at least one probe',
      ],
    ],
    [
      'missing-probes-absent',
      [
        "fixtures/invalid/missing-probes-absent.yaml:13:5: spec.steadyState.probes: missing required field 'probes'",
      ],
    ],
    [
      'stopwhen-unknown-probe',
      [
        "fixtures/invalid/stopwhen-unknown-probe.yaml:17:14: spec.stopWhen[0].probe: no probe named 'web-down' in spec.steadyState.probes (known: web-up)",
      ],
    ],
    [
      'namespace-without-kubernetes',
      [
        'fixtures/invalid/namespace-without-kubernetes.yaml:10:18: spec.target.selector.namespace: namespace selects kubernetes pods; the docker driver has no namespaces (the kubernetes driver is planned)',
      ],
    ],
    [
      'stopwhen-window-too-short',
      [
        "fixtures/invalid/stopwhen-window-too-short.yaml:20:15: spec.stopWhen[0].window: window 5s is too short: it must hold 3 samples of 'web-up' (interval 500ms, timeout 2s), so at least 6s",
      ],
    ],
    [
      'fault-unsupported-by-driver',
      [
        "fixtures/invalid/fault-unsupported-by-driver.yaml:11:13: spec.faults[0].type: fault 'restart' is not supported by the process driver (it supports: kill, pause, latency, loss, bandwidth, reset, timeout, zone-outage)",
      ],
    ],
    [
      'zone-outage-mode-unsupported',
      [
        "fixtures/invalid/zone-outage-mode-unsupported.yaml:14:13: spec.faults[0].mode: zone-outage mode 'stop' is not supported by the process driver (it supports: pause)",
      ],
    ],
    [
      'zone-outage-mode-not-all',
      [
        "fixtures/invalid/zone-outage-mode-not-all.yaml:7:5: spec.target.mode: a zone-outage hits every target in zone 'zone-a'; set mode: all (got 'one')",
      ],
    ],
    [
      'zone-outage-mode-count',
      [
        "fixtures/invalid/zone-outage-mode-count.yaml:10:11: spec.target.mode: a zone-outage hits every target in zone 'zone-a'; set mode: all (got 'count:2')",
      ],
    ],
    [
      'zone-outage-other-zone',
      [
        "fixtures/invalid/zone-outage-other-zone.yaml:10:13: spec.target.selector.zone: zone 'zone-b' differs from the zone-outage's zone 'zone-a'; remove it or make the two equal",
      ],
    ],
    [
      'zone-outage-with-other-faults',
      [
        'fixtures/invalid/zone-outage-with-other-faults.yaml:12:5: spec.faults: a zone-outage must be the only fault of its experiment (found 2: zone-outage, latency); put the others in an experiment of their own',
      ],
    ],
    [
      'partition-to-namespace',
      [
        'fixtures/invalid/partition-to-namespace.yaml:14:20: spec.faults[0].to.namespace: namespace selects kubernetes pods; the docker driver has no namespaces (the kubernetes driver is planned)',
      ],
    ],
    [
      'partition-on-process',
      [
        "fixtures/invalid/partition-on-process.yaml:11:13: spec.faults[0].type: fault 'partition' is not supported by the process driver (it supports: kill, pause, latency, loss, bandwidth, reset, timeout, zone-outage)",
      ],
    ],
    [
      'latency-inbound-without-ports',
      [
        'fixtures/invalid/latency-inbound-without-ports.yaml:11:7: spec.faults[0].ports: an inbound fault needs ports: [..]',
        'fixtures/invalid/latency-inbound-without-ports.yaml:13:11: spec.faults[0].to: to: lists destinations of outbound traffic; use direction: outbound, or ports for inbound',
      ],
    ],
    [
      'bandwidth-bad-rate',
      [
        'fixtures/invalid/bandwidth-bad-rate.yaml:12:13: spec.faults[0].rate: expected a rate of at least 8bit',
      ],
    ],
    [
      'loss-bad-destination',
      [
        'fixtures/invalid/loss-bad-destination.yaml:14:12: spec.faults[0].to[0]: expected host:port, e.g. 10.0.0.5:5432',
        'fixtures/invalid/loss-bad-destination.yaml:14:39: spec.faults[0].to[1]: expected a port from 1 to 65535',
      ],
    ],
    [
      'schedule-bad-cron',
      [
        "fixtures/invalid/schedule-bad-cron.yaml:17:11: spec.schedule.cron: '61' is not a valid minute; expected 5 fields (minute hour day-of-month month day-of-week), or 6 with seconds first",
      ],
    ],
    [
      'schedule-bad-opt-in-label',
      [
        "fixtures/invalid/schedule-bad-opt-in-label.yaml:18:17: spec.schedule.optInLabel: expected key=value, e.g. simian.dev/chaos=enabled, got 'chaos-enabled'",
      ],
    ],
    [
      'schedule-blackout-bad-bound',
      [
        "fixtures/invalid/schedule-blackout-bad-bound.yaml:19:15: spec.schedule.blackouts[0].from: expected a day YYYY-MM-DD or a wall-clock time YYYY-MM-DDTHH:MM, got '2026-12-24 18:00'",
      ],
    ],
    [
      'schedule-blackout-bad-date',
      [
        'fixtures/invalid/schedule-blackout-bad-date.yaml:19:9: spec.schedule.blackouts[0]: 2026-02-30 is not a day of the calendar',
        "fixtures/invalid/schedule-blackout-bad-date.yaml:20:9: spec.schedule.blackouts[1]: expected a day YYYY-MM-DD or a range {from, to}, got '24.12.2026'",
      ],
    ],
    [
      'schedule-blackout-reversed',
      [
        'fixtures/invalid/schedule-blackout-reversed.yaml:20:13: spec.schedule.blackouts[0].to: the blackout ends before it starts (from 2027-01-02, to 2026-12-20)',
      ],
    ],
    [
      'schedule-cron-and-mean',
      [
        'fixtures/invalid/schedule-cron-and-mean.yaml:18:22: spec.schedule.meanTimeBetween: cron and meanTimeBetween are alternatives; keep cron for fixed times or meanTimeBetween for random ones',
      ],
    ],
    [
      'schedule-cron-day-of-month-and-week',
      [
        'fixtures/invalid/schedule-cron-day-of-month-and-week.yaml:17:11: spec.schedule.cron: restricts both day of month and day of week, which cron implementations read differently (either one, or both, must match); restrict only one and write * for the other',
      ],
    ],
    [
      'schedule-cron-field-count',
      [
        'fixtures/invalid/schedule-cron-field-count.yaml:17:11: spec.schedule.cron: expected a cron expression of 5 fields (minute hour day-of-month month day-of-week), or 6 with seconds first, got 4 fields',
      ],
    ],
    [
      'schedule-jitter-too-large',
      [
        'fixtures/invalid/schedule-jitter-too-large.yaml:18:13: spec.schedule.jitter: jitter 2h must be shorter than meanTimeBetween 2h, or two runs could start at once',
      ],
    ],
    [
      'schedule-jitter-without-mean',
      [
        'fixtures/invalid/schedule-jitter-without-mean.yaml:18:13: spec.schedule.jitter: jitter spreads meanTimeBetween; a cron schedule fires at its exact times',
      ],
    ],
    [
      'schedule-mean-too-short',
      [
        'fixtures/invalid/schedule-mean-too-short.yaml:17:22: spec.schedule.meanTimeBetween: meanTimeBetween must be at least 1m, got 30s',
      ],
    ],
    [
      'schedule-opt-in-excluded-by-selector',
      [
        'fixtures/invalid/schedule-opt-in-excluded-by-selector.yaml:9:45: spec.target.selector.labels["simian.dev/chaos"]: the selector asks for simian.dev/chaos=disabled, but scheduled runs only choose targets carrying the opt-in label simian.dev/chaos=enabled (spec.schedule.optInLabel); change one of them',
      ],
    ],
    [
      'schedule-unknown-timezone',
      [
        "fixtures/invalid/schedule-unknown-timezone.yaml:18:15: spec.schedule.timezone: unknown time zone 'Europe/Berln'; expected an IANA name such as Europe/Berlin, America/New_York or UTC",
      ],
    ],
    [
      'schedule-window-bad-day',
      [
        "fixtures/invalid/schedule-window-bad-day.yaml:19:16: spec.schedule.windows[0].days[0]: expected one of mon | tue | wed | thu | fri | sat | sun, got 'monday'",
      ],
    ],
    [
      'schedule-window-bad-time',
      [
        "fixtures/invalid/schedule-window-bad-time.yaml:20:15: spec.schedule.windows[0].from: expected a time HH:MM from 00:00 to 24:00, got '9:00'",
        "fixtures/invalid/schedule-window-bad-time.yaml:21:13: spec.schedule.windows[0].to: expected a time HH:MM from 00:00 to 24:00, got '25:00'",
      ],
    ],
    [
      'schedule-window-empty',
      [
        "fixtures/invalid/schedule-window-empty.yaml:21:13: spec.schedule.windows[0].to: the window opens and closes at 22:00; for a whole day write from: '00:00', to: '24:00'",
      ],
    ],
    [
      'schedule-window-opens-at-24',
      [
        "fixtures/invalid/schedule-window-opens-at-24.yaml:20:15: spec.schedule.windows[0].from: a window cannot open at 24:00; use 00:00 and the next day's name",
      ],
    ],
    [
      'schedule-windows-empty-list',
      [
        'fixtures/invalid/schedule-windows-empty-list.yaml:18:14: spec.schedule.windows: an empty list of windows would never allow a run; leave windows out to allow any time',
      ],
    ],
    [
      'schedule-without-trigger',
      [
        'fixtures/invalid/schedule-without-trigger.yaml:17:5: spec.schedule: a schedule needs cron (fixed times) or meanTimeBetween (random times)',
      ],
    ],
    ['duplicate-key', ["fixtures/invalid/duplicate-key.yaml:10:5: spec.target: duplicate key 'driver'"]],
    [
      'probe-without-kind',
      [
        'fixtures/invalid/probe-without-kind.yaml:14:9: spec.steadyState.probes[0]: a probe needs exactly one of http, command (found 0)',
      ],
    ],
    [
      'missing-fields',
      [
        "fixtures/invalid/missing-fields.yaml:1:1: apiVersion: missing required field 'apiVersion'",
        "fixtures/invalid/missing-fields.yaml:6:5: spec.target.driver: missing required field 'driver'",
        "fixtures/invalid/missing-fields.yaml:8:7: spec.faults[0].type: missing required field 'type' (one of kill | stop | pause | restart | latency | loss | bandwidth | reset | timeout | partition | zone-outage)",
        "fixtures/invalid/missing-fields.yaml:11:9: spec.steadyState.probes[0].name: missing required field 'name'",
        'fixtures/invalid/missing-fields.yaml:11:22: spec.steadyState.probes[0].http.url: expected an http:// or https:// URL',
      ],
    ],
    ['other-kind', ['fixtures/invalid/other-kind.yaml:2:7: kind: expected kind Experiment']],
    [
      'empty',
      [
        'fixtures/invalid/empty.yaml:1:1: the file is empty; expected an experiment with apiVersion, kind, metadata and spec',
      ],
    ],
  ];

  test.each(cases)('%s', async (name, expected) => {
    expect(await fixtureMessages(`invalid/${name}.yaml`)).toEqual(expected);
  });

  test('every invalid fixture has a case', async () => {
    const files = await collectExperimentFiles([join(fixtures, 'invalid')]);
    const names = files.map((file) => relative(join(fixtures, 'invalid'), file).replace(/\.yaml$/, ''));
    expect(names.sort()).toEqual(cases.map(([name]) => name).sort());
  });
});

describe('issue positions', () => {
  const header = 'apiVersion: simian.dev/v1alpha1\nkind: Experiment\nmetadata:\n  name: x\nspec:\n';
  const messages = (spec: string) => {
    const result = parseExperimentSource(header + spec, 'x.yaml');
    return result.ok ? [] : result.issues.map(formatIssue);
  };

  test('an empty value is reported at its key', () => {
    expect(
      messages('  target: { driver: docker, selector: {} }\n  faults: [{ type: kill }]\n  steadyState:\n'),
    ).toEqual(['x.yaml:8:3: spec.steadyState: expected mapping, got null']);
  });

  test('issues are sorted by line and column, keys with dots are quoted', () => {
    expect(
      messages(
        [
          '  target: { driver: docker, selector: { labels: { "app.kubernetes.io/name": 5 } } }',
          '  faults: [{ type: kill, signal: SIGFOO, extra: 1 }]',
          '  steadyState: { probes: [{ name: a, command: { run: "" } }] }',
          '',
        ].join('\n'),
      ),
    ).toEqual([
      'x.yaml:6:77: spec.target.selector.labels["app.kubernetes.io/name"]: expected string, got number',
      "x.yaml:7:34: spec.faults[0].signal: expected one of SIGKILL | SIGTERM | SIGINT | SIGHUP | SIGQUIT | SIGABRT | SIGUSR1 | SIGUSR2, got 'SIGFOO'",
      "x.yaml:7:42: spec.faults[0]: unknown field 'extra'",
      'x.yaml:8:54: spec.steadyState.probes[0].command.run: must not be empty',
    ]);
  });

  test('a refinement about an absent field keeps its message; a misspelt field is suggested instead', () => {
    const spec = (fault: string) =>
      `  target: { driver: docker, selector: {} }\n  faults: [${fault}]\n  steadyState: { probes: [{ name: a, command: { run: x } }] }\n`;
    expect(messages(spec('{ type: reset, ports: [80] }'))).toEqual([]);
    expect(messages(spec('{ type: loss, percent: 5 }'))).toEqual([
      'x.yaml:7:12: spec.faults[0].ports: an inbound fault needs ports: [..]',
    ]);
    expect(messages(spec('{ type: loss, percent: 5, port: [80] }'))).toEqual([
      "x.yaml:7:38: spec.faults[0]: unknown field 'port' (did you mean 'ports'?)",
    ]);
  });

  test('a duplicate key inside a list item names the item', () => {
    expect(messages('  faults:\n    - type: kill\n      type: stop\n')).toEqual([
      "x.yaml:8:7: spec.faults[0]: duplicate key 'type'",
    ]);
  });

  test('a file holding several documents is a syntax error', () => {
    const result = parseExperimentSource('a: 1\n---\nb: 2\n', 'x.yaml');
    expect(result.ok ? [] : result.issues.map(formatIssue)).toEqual([
      'x.yaml:2:1: YAML syntax error: Source contains multiple documents; please use YAML.parseAllDocuments()',
    ]);
  });

  test('a top-level list is not an experiment', () => {
    const result = parseExperimentSource('- a\n', 'x.yaml');
    expect(result.ok ? [] : result.issues.map(formatIssue)).toEqual([
      'x.yaml:1:1: expected mapping, got list',
    ]);
  });
});

describe('valid experiments', () => {
  test('the minimal experiment gets every default', async () => {
    const { experiment } = await loadExperimentFile(join(fixtures, 'valid', 'minimal.yaml'));
    expect(experiment.spec).toEqual({
      target: { driver: 'process', selector: { labels: { app: 'worker' } }, mode: 'one' },
      faults: [{ type: 'kill', signal: 'SIGKILL' }],
      duration: '30s',
      steadyState: {
        probes: [
          {
            name: 'worker-alive',
            command: { run: 'pgrep -f worker', timeout: '5s' },
            interval: '1s',
            tolerance: { successRate: 1 },
          },
        ],
        before: '5s',
        after: '30s',
      },
      stopWhen: [],
    });
  });

  test('http probes and stop conditions get their defaults', () => {
    const result = parseExperimentSource(
      [
        'apiVersion: simian.dev/v1alpha1',
        'kind: Experiment',
        'metadata: { name: http-defaults }',
        'spec:',
        '  target: { driver: docker, selector: {} }',
        '  faults: [{ type: stop }, { type: restart }]',
        '  steadyState: { probes: [{ name: up, http: { url: "http://127.0.0.1:8080/health" } }] }',
        '  stopWhen: [{ probe: up, successRateBelow: 0.5 }]',
      ].join('\n'),
      'x.yaml',
    );
    if (!result.ok) throw new Error(result.issues.map(formatIssue).join('\n'));
    const { spec } = result.experiment;
    expect(spec.target.selector.labels).toEqual({});
    expect(spec.faults).toEqual([
      { type: 'stop', timeout: '10s' },
      { type: 'restart', timeout: '10s' },
    ]);
    expect(spec.steadyState.probes[0]?.http).toEqual({
      url: 'http://127.0.0.1:8080/health',
      method: 'GET',
      timeout: '1s',
      expect: { status: 200 },
    });
    expect(spec.stopWhen).toEqual([{ probe: 'up', successRateBelow: 0.5, window: '5s' }]);
  });

  test('a schedule gets its defaults; cron and meanTimeBetween are alternatives', () => {
    const parse = (schedule: string) => {
      const result = parseExperimentSource(
        [
          'apiVersion: simian.dev/v1alpha1',
          'kind: Experiment',
          'metadata: { name: scheduled }',
          'spec:',
          '  target: { driver: docker, selector: { labels: { app: web } } }',
          '  faults: [{ type: kill }]',
          '  steadyState: { probes: [{ name: up, command: { run: "true" } }] }',
          `  schedule: ${schedule}`,
        ].join('\n'),
        'x.yaml',
      );
      if (!result.ok) throw new Error(result.issues.map(formatIssue).join('\n'));
      return result.experiment.spec.schedule;
    };
    expect(parse('{ cron: "*/30 10-16 * * 1-5" }')).toEqual({
      cron: '*/30 10-16 * * 1-5',
      timezone: 'UTC',
      blackouts: [],
      optInLabel: 'simian.dev/chaos=enabled',
    });
    expect(
      parse(
        '{ meanTimeBetween: 2h, timezone: America/New_York, windows: [{ from: "22:00", to: "02:00" }], blackouts: [2026-12-24, { from: 2026-12-31T18:00, to: 2027-01-01 }], targetGroup: web }',
      ),
    ).toEqual({
      meanTimeBetween: '2h',
      timezone: 'America/New_York',
      windows: [{ days: ['mon', 'tue', 'wed', 'thu', 'fri', 'sat', 'sun'], from: '22:00', to: '02:00' }],
      blackouts: ['2026-12-24', { from: '2026-12-31T18:00', to: '2027-01-01' }],
      optInLabel: 'simian.dev/chaos=enabled',
      targetGroup: 'web',
    });
  });

  test('every valid fixture loads and keeps its source', async () => {
    const files = await collectExperimentFiles([join(fixtures, 'valid')]);
    expect(files.length).toBeGreaterThan(1);
    for (const file of files) {
      const loaded = await loadExperimentFile(file);
      expect(loaded.file).toBe(file);
      expect(loaded.source).toBe(await readFile(file, 'utf8'));
    }
  });

  test('every example under experiments/ is valid', async () => {
    const results = await validateFiles([join(repoRoot, 'experiments')]);
    expect(results.length).toBeGreaterThan(0);
    const issues = results.flatMap((result) => result.issues.map(formatIssue));
    expect(issues).toEqual([]);
  });
});

describe('files', () => {
  test('loadExperimentFile throws every issue, one per line, with the path as given', async () => {
    const file = relative(process.cwd(), join(fixtures, 'invalid', 'wrong-type.yaml'));
    const error = await loadExperimentFile(file).catch((caught: unknown) => caught);
    expect(error).toBeInstanceOf(SimianError);
    expect(error).toMatchObject({
      code: 'SIMIAN_INVALID_EXPERIMENT',
      message: [
        `${file}:17:24: spec.steadyState.probes[0].tolerance.successRate: expected number, got string`,
        `${file}:19:5: spec.stopWhen: expected list, got mapping`,
      ].join('\n'),
    });
  });

  test('a missing file is SIMIAN_FILE_NOT_FOUND', async () => {
    const file = join(fixtures, 'nope.yaml');
    await expect(loadExperimentFile(file)).rejects.toMatchObject({
      code: 'SIMIAN_FILE_NOT_FOUND',
      message: `cannot read experiment file ${file}: no such file`,
    });
  });

  test('collectExperimentFiles walks directories, sorted, and keeps files named directly', async () => {
    const valid = join(fixtures, 'valid');
    const direct = join(fixtures, 'invalid', 'empty.yaml');
    expect(await collectExperimentFiles([direct, fixtures, valid])).toEqual([
      direct,
      ...(await collectExperimentFiles([join(fixtures, 'invalid')])).filter((file) => file !== direct),
      join(valid, 'full.yaml'),
      join(valid, 'minimal.yaml'),
    ]);
  });

  test('a missing path is SIMIAN_FILE_NOT_FOUND naming it', async () => {
    const missing = join(fixtures, 'no-such-dir');
    await expect(collectExperimentFiles([fixtures, missing])).rejects.toMatchObject({
      code: 'SIMIAN_FILE_NOT_FOUND',
      message: `no such file or directory: ${missing}`,
    });
    await expect(validateFiles([missing])).rejects.toBeInstanceOf(SimianError);
  });

  test('validateFiles reports invalid files without throwing', async () => {
    const results = await validateFiles([
      join(fixtures, 'valid', 'minimal.yaml'),
      join(fixtures, 'invalid', 'other-kind.yaml'),
    ]);
    expect(
      results.map(({ ok, name, issues }) => ({ ok, name, messages: issues.map((i) => i.message) })),
    ).toEqual([
      { ok: true, name: 'minimal', messages: [] },
      { ok: false, name: undefined, messages: ['expected kind Experiment'] },
    ]);
  });
});
