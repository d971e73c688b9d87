import { z } from 'zod';
import { durationSchema } from './duration.js';

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

/** A fault as users write it in an experiment. */
export const faultSpecSchema = z.discriminatedUnion('type', [
  killFaultSchema,
  stopFaultSchema,
  pauseFaultSchema,
  restartFaultSchema,
]);
export type FaultSpec = z.infer<typeof faultSpecSchema>;
export type FaultType = FaultSpec['type'];
export const faultTypes = faultSpecSchema.options.map((option) => option.shape.type.value);

/** Does nothing to the target: used to measure the command path itself. Wire only. */
export const noopFaultSchema = z.strictObject({ type: z.literal('noop') });

/** A fault as it travels to an agent. */
export const wireFaultSchema = z.discriminatedUnion('type', [...faultSpecSchema.options, noopFaultSchema]);
export type WireFault = z.infer<typeof wireFaultSchema>;
export type WireFaultType = WireFault['type'];

/** Faults that leave nothing to revert: recovery is the system's job. */
export const instantaneousFaults: ReadonlySet<WireFaultType> = new Set(['kill', 'restart', 'noop']);
