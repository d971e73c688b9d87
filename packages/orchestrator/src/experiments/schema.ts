import {
  type DriverName,
  driverFaults,
  driverSchema,
  driverZoneOutageModes,
  durationMs,
  durationSchema,
  type FaultSpec,
  faultSpecSchema,
  formatDuration,
  labelsSchema,
  type Selector,
  selectorSchema,
} from '@simian/protocol';
import { z } from 'zod';
import { STOP_CONDITION_MIN_SAMPLES } from '../probes/tolerance.js';
import { modeSchema } from './mode.js';
import { scheduleSchema } from './schedule-schema.js';

export const API_VERSION = 'simian.dev/v1alpha1';

const httpProbeSchema = z.strictObject({
  url: z.url({ protocol: /^https?$/, error: 'expected an http:// or https:// URL' }),
  /** @default GET */
  method: z.enum(['GET', 'HEAD', 'POST', 'PUT', 'PATCH', 'DELETE']).default('GET'),
  /** @default 1s */
  timeout: durationSchema.default('1s'),
  headers: z.record(z.string(), z.string()).optional(),
  body: z.string().optional(),
  expect: z
    .strictObject({
      /** One status or a list of accepted statuses. @default 200 */
      status: z.union([z.int().min(100).max(599), z.array(z.int().min(100).max(599)).min(1)]).default(200),
      /** The response body must contain this text. */
      body: z.string().optional(),
    })
    .default({ status: 200 }),
});

const commandProbeSchema = z.strictObject({
  /** Run by /bin/sh -c; success is exit code 0. */
  run: z.string().min(1),
  /** @default 5s */
  timeout: durationSchema.default('5s'),
});

const toleranceSchema = z.strictObject({
  /** Share of samples that must succeed, 0 to 1. @default 1 */
  successRate: z.number().min(0).max(1).default(1),
  p50: durationSchema.optional(),
  p95: durationSchema.optional(),
  p99: durationSchema.optional(),
});

export const probeSchema = z
  .strictObject({
    name: z.string().min(1, 'a probe needs a name'),
    http: httpProbeSchema.optional(),
    command: commandProbeSchema.optional(),
    /** @default 1s */
    interval: durationSchema.default('1s'),
    tolerance: toleranceSchema.default({ successRate: 1 }),
  })
  .superRefine((probe, ctx) => {
    const kinds = [probe.http, probe.command].filter((kind) => kind !== undefined).length;
    if (kinds !== 1) {
      ctx.addIssue({
        code: 'custom',
        message: `a probe needs exactly one of http, command (found ${kinds})`,
      });
    }
  });
export type Probe = z.infer<typeof probeSchema>;

const stopConditionSchema = z.strictObject({
  /** Name of a probe in spec.steadyState.probes. */
  probe: z.string().min(1),
  /** Abort when the probe's success rate over `window` drops below this. */
  successRateBelow: z.number().min(0).max(1),
  /** @default 5s */
  window: durationSchema.default('5s'),
});
export type StopCondition = z.infer<typeof stopConditionSchema>;

const specSchema = z
  .strictObject({
    target: z.strictObject({
      driver: driverSchema,
      selector: selectorSchema,
      /** @default one */
      mode: modeSchema.default('one'),
    }),
    faults: z.array(faultSpecSchema).min(1, 'an experiment needs at least one fault'),
    /** How long faults stay before they are reverted. @default 30s */
    duration: durationSchema.default('30s'),
    steadyState: z.strictObject({
      probes: z.array(probeSchema).min(1, 'an experiment needs at least one probe'),
      /** Steady state must hold this long before injecting. @default 5s */
      before: durationSchema.default('5s'),
      /** And must come back within this after reverting. @default 30s */
      after: durationSchema.default('30s'),
    }),
    stopWhen: z.array(stopConditionSchema).default([]),
    /** Only used by the orchestrator's scheduler (docs/scheduling.md). */
    schedule: scheduleSchema.optional(),
  })
  .superRefine((spec, ctx) => {
    if (spec.target.selector.namespace !== undefined) {
      ctx.addIssue({
        code: 'custom',
        path: ['target', 'selector', 'namespace'],
        message: namespaceMessage(spec.target.driver),
      });
    }
    const supported: readonly string[] = driverFaults[spec.target.driver];
    spec.faults.forEach((fault, index) => {
      if (!supported.includes(fault.type)) {
        ctx.addIssue({
          code: 'custom',
          path: ['faults', index, 'type'],
          message: `fault '${fault.type}' is not supported by the ${spec.target.driver} driver (it supports: ${supported.join(', ')})`,
        });
      }
      if (fault.type === 'partition' && fault.to.namespace !== undefined) {
        ctx.addIssue({
          code: 'custom',
          path: ['faults', index, 'to', 'namespace'],
          message: namespaceMessage(spec.target.driver),
        });
      }
    });
    checkZoneOutage(spec, ctx);
    checkOptInLabel(spec, ctx);
    const names = spec.steadyState.probes.map((probe) => probe.name);
    names.forEach((name, index) => {
      if (names.indexOf(name) !== index) {
        ctx.addIssue({
          code: 'custom',
          path: ['steadyState', 'probes', index, 'name'],
          message: `duplicate probe name '${name}'`,
        });
      }
    });
    spec.stopWhen.forEach((condition, index) => {
      const probe = spec.steadyState.probes.find((candidate) => candidate.name === condition.probe);
      if (!probe) {
        ctx.addIssue({
          code: 'custom',
          path: ['stopWhen', index, 'probe'],
          message: `no probe named '${condition.probe}' in spec.steadyState.probes (known: ${names.join(', ')})`,
        });
        return;
      }
      // A stop condition is judged on at least 3 samples in its window; attempts never overlap,
      // so against a hanging target one takes up to max(interval, timeout).
      const timeout = probe.http?.timeout ?? probe.command?.timeout ?? '0ms';
      const slowest = Math.max(durationMs(probe.interval), durationMs(timeout));
      if (durationMs(condition.window) < STOP_CONDITION_MIN_SAMPLES * slowest) {
        ctx.addIssue({
          code: 'custom',
          path: ['stopWhen', index, 'window'],
          message: `window ${condition.window} is too short: it must hold ${STOP_CONDITION_MIN_SAMPLES} samples of '${probe.name}' (interval ${probe.interval}, timeout ${timeout}), so at least ${formatDuration(STOP_CONDITION_MIN_SAMPLES * slowest)}`,
        });
      }
    });
  });

function namespaceMessage(driver: DriverName): string {
  return `namespace selects kubernetes pods; the ${driver} driver has no namespaces (the kubernetes driver is planned)`;
}

/** A selector that demands another value of the opt-in label would leave a schedule nothing to run on. */
function checkOptInLabel(
  spec: { target: { selector: Selector }; schedule?: { optInLabel: string } | undefined },
  ctx: z.core.$RefinementCtx,
): void {
  const label = spec.schedule?.optInLabel;
  const separator = label?.indexOf('=') ?? -1;
  if (label === undefined || separator <= 0) return;
  const key = label.slice(0, separator);
  const wanted = spec.target.selector.labels[key];
  if (wanted !== undefined && wanted !== label.slice(separator + 1)) {
    ctx.addIssue({
      code: 'custom',
      path: ['target', 'selector', 'labels', key],
      message: `the selector asks for ${key}=${wanted}, but scheduled runs only choose targets carrying the opt-in label ${label} (spec.schedule.optInLabel); change one of them`,
    });
  }
}

interface ZoneOutageSpec {
  target: { driver: DriverName; selector: Selector; mode: string };
  faults: FaultSpec[];
}

/**
 * A zone outage hits every target in its zone, so the experiment must say `mode: all`: the
 * safety promise is that a run never touches more targets than its mode allows, and the default
 * `one` would be a lie. It stands alone so that "the zone is gone" is all the run measures.
 */
function checkZoneOutage(spec: ZoneOutageSpec, ctx: z.core.$RefinementCtx): void {
  const outages = spec.faults.flatMap((fault, index) =>
    fault.type === 'zone-outage' ? [{ fault, index }] : [],
  );
  const [first] = outages;
  if (first === undefined) return;
  const driver = spec.target.driver;
  const modes: readonly string[] = driverZoneOutageModes[driver];
  for (const { fault, index } of outages) {
    if (!modes.includes(fault.mode)) {
      ctx.addIssue({
        code: 'custom',
        path: ['faults', index, 'mode'],
        message: `zone-outage mode '${fault.mode}' is not supported by the ${driver} driver (it supports: ${modes.join(', ')})`,
      });
    }
  }
  if (spec.target.mode !== 'all') {
    ctx.addIssue({
      code: 'custom',
      path: ['target', 'mode'],
      message: `a zone-outage hits every target in zone '${first.fault.zone}'; set mode: all (got '${spec.target.mode}')`,
    });
  }
  const selectorZone = spec.target.selector.zone;
  if (selectorZone !== undefined && selectorZone !== first.fault.zone) {
    ctx.addIssue({
      code: 'custom',
      path: ['target', 'selector', 'zone'],
      message: `zone '${selectorZone}' differs from the zone-outage's zone '${first.fault.zone}'; remove it or make the two equal`,
    });
  }
  if (spec.faults.length > 1) {
    ctx.addIssue({
      code: 'custom',
      path: ['faults'],
      message: `a zone-outage must be the only fault of its experiment (found ${spec.faults.length}: ${spec.faults.map((fault) => fault.type).join(', ')}); put the others in an experiment of their own`,
    });
  }
}

export const experimentSchema = z.strictObject({
  apiVersion: z.literal(API_VERSION, { error: `expected apiVersion ${API_VERSION}` }),
  kind: z.literal('Experiment', { error: 'expected kind Experiment' }),
  metadata: z.strictObject({
    name: z
      .string()
      .regex(/^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/, 'expected a name of lowercase letters, digits and dashes')
      .max(63),
    description: z.string().optional(),
    labels: labelsSchema.optional(),
  }),
  spec: specSchema,
});

export type Experiment = z.infer<typeof experimentSchema>;
export type ExperimentInput = z.input<typeof experimentSchema>;
