import { describe, expect, test } from 'vitest';
import { formatIssue } from '../experiments/format-issues.js';
import { parseExperimentSource } from '../experiments/load.js';
import type { Experiment } from '../experiments/schema.js';
import { isOptedIn, planSchedule, scheduledSelector, targetGroupOf } from './plan.js';

function experiment(schedule: string | undefined, selector = '{ labels: { app: web } }'): Experiment {
  const lines = [
    'apiVersion: simian.dev/v1alpha1',
    'kind: Experiment',
    'metadata: { name: web-kill }',
    'spec:',
    `  target: { driver: docker, selector: ${selector} }`,
    '  faults: [{ type: kill }]',
    '  steadyState: { probes: [{ name: up, command: { run: "true" } }] }',
  ];
  if (schedule !== undefined) lines.push(`  schedule: ${schedule}`);
  const result = parseExperimentSource(lines.join('\n'), 'x.yaml');
  if (!result.ok) throw new Error(result.issues.map(formatIssue).join('\n'));
  return result.experiment;
}

describe('planSchedule', () => {
  test('an experiment without a schedule has no plan', () => {
    expect(planSchedule(experiment(undefined))).toBeUndefined();
  });

  test('a cron schedule gets UTC, no windows, the default opt-in label and the selector as its group', () => {
    expect(planSchedule(experiment('{ cron: "*/30 10-16 * * 1-5" }'))).toEqual({
      experiment: 'web-kill',
      timeZone: 'UTC',
      trigger: { kind: 'cron', expression: '*/30 10-16 * * 1-5' },
      windows: undefined,
      blackouts: [],
      optIn: { key: 'simian.dev/chaos', value: 'enabled' },
      targetGroup: 'docker:app=web',
      seed: 'web-kill',
    });
  });

  test('meanTimeBetween without jitter draws within half the mean either way', () => {
    expect(planSchedule(experiment('{ meanTimeBetween: 2h }'))?.trigger).toEqual({
      kind: 'random',
      interval: { meanMs: 7_200_000, jitterMs: 3_600_000 },
    });
    expect(planSchedule(experiment('{ meanTimeBetween: 2h, jitter: 10m }'))?.trigger).toEqual({
      kind: 'random',
      interval: { meanMs: 7_200_000, jitterMs: 600_000 },
    });
  });

  test('a target group can be named, and an opt-in label chosen', () => {
    const plan = planSchedule(
      experiment('{ cron: "0 10 * * *", targetGroup: storefront, optInLabel: "team=chaos" }'),
    );
    expect(plan).toMatchObject({ targetGroup: 'storefront', optIn: { key: 'team', value: 'chaos' } });
  });
});

describe('target groups and opt-in', () => {
  test('the default group is the driver and the selector, written canonically', () => {
    expect(targetGroupOf('docker', { labels: { tier: 'front', app: 'web' }, zone: 'zone-a' })).toBe(
      'docker:app=web,tier=front@zone-a',
    );
    expect(targetGroupOf('process', { labels: {} })).toBe('process:*');
  });

  test('a scheduled run resolves targets with the opt-in label added to its selector', () => {
    const plan = planSchedule(experiment('{ cron: "0 10 * * *" }', '{ labels: { app: web }, zone: zone-a }'));
    if (plan === undefined) throw new Error('no plan');
    expect(scheduledSelector(plan, { labels: { app: 'web' }, zone: 'zone-a' })).toEqual({
      labels: { app: 'web', 'simian.dev/chaos': 'enabled' },
      zone: 'zone-a',
    });
    expect(isOptedIn(plan, { 'simian.dev/chaos': 'enabled' })).toBe(true);
    expect(isOptedIn(plan, { 'simian.dev/chaos': 'true' })).toBe(false);
    expect(isOptedIn(plan, {})).toBe(false);
  });
});
