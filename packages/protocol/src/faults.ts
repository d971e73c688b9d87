import { z } from 'zod';
import { durationSchema } from './duration.js';
import { selectorSchema } from './targets.js';

/** Signals a `kill` fault may send. */
export const signalSchema = z.enum([
  'SIGKILL',
  'SIGTERM',
  'SIGINT',
  'SIGHUP',
  'SIGQUIT',
  'SIGABRT',
  'SIGUSR1',
  'SIGUSR2',
]);
export type Signal = z.infer<typeof signalSchema>;

/** Sends a signal to the target's main process, as a crash would. Nothing to revert. */
export const killFaultSchema = z.strictObject({
  type: z.literal('kill'),
  /** @default SIGKILL */
  signal: signalSchema.default('SIGKILL'),
});

/** Stops the target gracefully; reverted by starting it again. */
export const stopFaultSchema = z.strictObject({
  type: z.literal('stop'),
  /** Grace period before SIGKILL. @default 10s */
  timeout: durationSchema.default('10s'),
});

/** Freezes every process of the target; reverted by resuming them. */
export const pauseFaultSchema = z.strictObject({
  type: z.literal('pause'),
});

/** Restarts the target. Nothing to revert. */
export const restartFaultSchema = z.strictObject({
  type: z.literal('restart'),
  /** Grace period before SIGKILL. @default 10s */
  timeout: durationSchema.default('10s'),
});

// Network faults. Inbound faults act on traffic to the target's `ports`; outbound ones on traffic
// from the target to the `to` destinations.

export const directionSchema = z.enum(['inbound', 'outbound']);
export type Direction = z.infer<typeof directionSchema>;

const portSchema = z.int().min(1).max(65535);
const portsSchema = z.array(portSchema).min(1, 'list at least one port');

/** `host:port`, the host an IPv4 address or a name the agent's host resolves. */
export const hostPortSchema = z
  .string()
  .regex(/^[A-Za-z0-9.-]+:\d{1,5}$/, { error: 'expected host:port, e.g. 10.0.0.5:5432', abort: true })
  .refine((value) => {
    const port = Number(value.slice(value.lastIndexOf(':') + 1));
    return port >= 1 && port <= 65535;
  }, 'expected a port from 1 to 65535');

export function splitHostPort(value: string): { host: string; port: number } {
  const colon = value.lastIndexOf(':');
  return { host: value.slice(0, colon), port: Number(value.slice(colon + 1)) };
}

const trafficShape = {
  /** @default inbound */
  direction: directionSchema.default('inbound'),
  /** Inbound: the target's ports whose traffic is affected. */
  ports: portsSchema.optional(),
  /** Outbound: destinations (host:port) whose traffic from the target is affected. */
  to: z.array(hostPortSchema).min(1, 'list at least one destination').optional(),
};

/** Inbound needs `ports` and no `to`; outbound needs `to` and no `ports`. */
function checkTraffic(
  fault: { direction: Direction; ports?: number[] | undefined; to?: string[] | undefined },
  ctx: z.core.$RefinementCtx,
): void {
  if (fault.direction === 'inbound') {
    if (fault.ports === undefined)
      ctx.addIssue({ code: 'custom', path: ['ports'], message: 'an inbound fault needs ports: [..]' });
    if (fault.to !== undefined)
      ctx.addIssue({
        code: 'custom',
        path: ['to'],
        message: 'to: lists destinations of outbound traffic; use direction: outbound, or ports for inbound',
      });
  } else {
    if (fault.to === undefined)
      ctx.addIssue({ code: 'custom', path: ['to'], message: 'an outbound fault needs to: [host:port, ..]' });
    if (fault.ports !== undefined)
      ctx.addIssue({
        code: 'custom',
        path: ['ports'],
        message: "ports: lists the target's own ports for inbound traffic; use to: [host:port] for outbound",
      });
  }
}

/** Delays traffic by `delay`, plus or minus a uniformly distributed `jitter`, keeping byte order. */
export const latencyFaultSchema = z
  .strictObject({
    type: z.literal('latency'),
    delay: durationSchema,
    /** @default 0ms */
    jitter: durationSchema.default('0ms'),
    ...trafficShape,
  })
  .superRefine(checkTraffic);

/** Drops this share of packets. */
export const lossFaultSchema = z
  .strictObject({
    type: z.literal('loss'),
    /** 0 to 100. */
    percent: z.number().min(0).max(100),
    ...trafficShape,
  })
  .superRefine(checkTraffic);

const RATE_UNITS = {
  bit: 1 / 8,
  kbit: 1000 / 8,
  mbit: 1e6 / 8,
  gbit: 1e9 / 8,
  bps: 1,
  kbps: 1e3,
  mbps: 1e6,
  gbps: 1e9,
};
const RATE_PATTERN = /^(\d+(?:\.\d+)?)(bit|kbit|mbit|gbit|bps|kbps|mbps|gbps)$/;

/** A rate as tc writes it: `bit`s or bytes (`bps`) per second, e.g. `1mbit`, `512kbps`. */
export const rateSchema = z
  .string()
  .regex(RATE_PATTERN, { error: 'expected a rate such as 1mbit, 256kbit or 100kbps (bytes/s)', abort: true })
  .refine((value) => rateBytesPerSecond(value) >= 1, 'expected a rate of at least 8bit');

export function rateBytesPerSecond(rate: string): number {
  const match = RATE_PATTERN.exec(rate);
  if (!match) throw new Error(`not a rate: ${rate}`);
  return Number(match[1]) * RATE_UNITS[match[2] as keyof typeof RATE_UNITS];
}

/** Limits throughput to `rate`. */
export const bandwidthFaultSchema = z
  .strictObject({
    type: z.literal('bandwidth'),
    rate: rateSchema,
    ...trafficShape,
  })
  .superRefine(checkTraffic);

/** New connections to the ports are reset (Toxiproxy's reset_peer). */
export const resetFaultSchema = z.strictObject({
  type: z.literal('reset'),
  ports: portsSchema,
});

/** New connections to the ports are accepted and then left hanging (Toxiproxy's timeout). */
export const timeoutFaultSchema = z.strictObject({
  type: z.literal('timeout'),
  ports: portsSchema,
});

/**
 * Blocks traffic both ways between the experiment's targets and the targets `to` selects; both
 * sides still reach everything else.
 */
export const partitionFaultSchema = z.strictObject({
  type: z.literal('partition'),
  to: selectorSchema,
});

export const zoneOutageModeSchema = z.enum(['stop', 'pause', 'isolate']);
export type ZoneOutageMode = z.infer<typeof zoneOutageModeSchema>;

/**
 * Every target in `zone` is lost at once (Chaos Gorilla): stopped as by a power cut, frozen, or
 * isolated so that nothing reaches it and it reaches nothing.
 */
export const zoneOutageFaultSchema = z.strictObject({
  type: z.literal('zone-outage'),
  zone: z.string().min(1),
  mode: zoneOutageModeSchema,
});

/** A fault as users write it in an experiment. */
export const faultSpecSchema = z.discriminatedUnion('type', [
  killFaultSchema,
  stopFaultSchema,
  pauseFaultSchema,
  restartFaultSchema,
  latencyFaultSchema,
  lossFaultSchema,
  bandwidthFaultSchema,
  resetFaultSchema,
  timeoutFaultSchema,
  partitionFaultSchema,
  zoneOutageFaultSchema,
]);
export type FaultSpec = z.infer<typeof faultSpecSchema>;
export type FaultType = FaultSpec['type'];
export const faultTypes = faultSpecSchema.options.map((option) => option.shape.type.value);

/** Does nothing to the target: used to measure the command path itself. Wire only. */
export const noopFaultSchema = z.strictObject({ type: z.literal('noop') });

/**
 * A partition as it travels to an agent: the orchestrator has resolved the `to` selector into the
 * addresses of the targets on the other side.
 */
export const wirePartitionFaultSchema = z.strictObject({
  ...partitionFaultSchema.shape,
  peers: z.array(z.ipv4()).min(1),
});

/** A fault as it travels to an agent. */
export const wireFaultSchema = z.discriminatedUnion('type', [
  killFaultSchema,
  stopFaultSchema,
  pauseFaultSchema,
  restartFaultSchema,
  latencyFaultSchema,
  lossFaultSchema,
  bandwidthFaultSchema,
  resetFaultSchema,
  timeoutFaultSchema,
  wirePartitionFaultSchema,
  zoneOutageFaultSchema,
  noopFaultSchema,
]);
export type WireFault = z.infer<typeof wireFaultSchema>;
export type WireFaultType = WireFault['type'];

/** Faults that leave nothing to revert: recovery is the system's job. */
export const instantaneousFaults: ReadonlySet<WireFaultType> = new Set(['kill', 'restart', 'noop']);

/** Faults that act on the target's network namespace. */
export const networkFaults: ReadonlySet<WireFaultType> = new Set([
  'latency',
  'loss',
  'bandwidth',
  'reset',
  'timeout',
  'partition',
]);
