import { z } from 'zod';

export const driverNames = ['process', 'docker'] as const;
export const driverSchema = z.enum(driverNames);
export type DriverName = z.infer<typeof driverSchema>;

/** Targets carrying this label set to "true" are never touched. */
export const PROTECTED_LABEL = 'simian.dev/protected';
/** A target label that overrides the zone of the agent it runs under. */
export const ZONE_LABEL = 'simian.dev/zone';

export const labelsSchema = z.record(z.string(), z.string());

/** Which targets an experiment wants, before mode and zone are applied. */
export const selectorSchema = z.strictObject({
  /** Every label must match exactly. @default {} */
  labels: labelsSchema.default({}),
  /** Only targets in this zone (from the target's simian.dev/zone label, or its agent's zone). */
  zone: z.string().min(1).optional(),
  /** Kubernetes only; accepted by the schema so the file format is stable. */
  namespace: z.string().min(1).optional(),
});
export type Selector = z.infer<typeof selectorSchema>;

/** One thing a fault can hit, as an agent reports it. */
export const targetSchema = z.strictObject({
  driver: driverSchema,
  /** Stable id: container id, or `pid:starttime` for processes (so a reused pid never matches). */
  id: z.string().min(1),
  name: z.string(),
  labels: labelsSchema,
  zone: z.string().optional(),
  /** The agent that owns the target. */
  agent: z.string().min(1),
  /** IPv4 addresses other targets reach it on (containers); used to resolve partitions. */
  addresses: z.array(z.ipv4()).optional(),
});
export type Target = z.infer<typeof targetSchema>;

export function isProtected(labels: Record<string, string>): boolean {
  return labels[PROTECTED_LABEL] === 'true';
}

export function matchesSelector(target: Target, selector: Selector): boolean {
  for (const [key, value] of Object.entries(selector.labels)) {
    if (target.labels[key] !== value) return false;
  }
  return selector.zone === undefined || target.zone === selector.zone;
}

/**
 * Which fault types each driver can apply. The agent's executor registry is typed against this,
 * and validation uses it, so an experiment never asks a driver for something it cannot do.
 */
export const driverFaults = {
  process: ['kill', 'pause', 'latency', 'loss', 'bandwidth', 'reset', 'timeout', 'zone-outage'],
  docker: [
    'kill',
    'stop',
    'pause',
    'restart',
    'latency',
    'loss',
    'bandwidth',
    'reset',
    'timeout',
    'partition',
    'zone-outage',
  ],
} as const satisfies Record<DriverName, readonly string[]>;

/**
 * Zone-outage modes per driver. Processes share the host's network and cannot be restarted by
 * simian, so a zone of processes can only be frozen.
 */
export const driverZoneOutageModes = {
  process: ['pause'],
  docker: ['stop', 'pause', 'isolate'],
} as const satisfies Record<DriverName, readonly string[]>;
