import { z } from 'zod';
import { wireFaultSchema } from './faults.js';
import { driverSchema, labelsSchema, selectorSchema, targetSchema } from './targets.js';

export const PROTOCOL_VERSION = 1;
/** Frames larger than this are answered with an error and dropped. */
export const MAX_FRAME_BYTES = 1024 * 1024;
/** ws closes the connection above this (the hard limit behind MAX_FRAME_BYTES). */
export const HARD_MAX_FRAME_BYTES = 8 * MAX_FRAME_BYTES;
/** Header carrying the shared token on the WebSocket upgrade and HTTP API calls. */
export const AUTH_HEADER = 'authorization';

const id = z.string().min(1).max(128);
const wireErrorSchema = z.strictObject({ code: z.string(), message: z.string() });

/** A fault the agent holds, as it reports it on (re)connect. */
export const activeFaultSchema = z.strictObject({
  faultId: id,
  runId: id,
  target: targetSchema,
  fault: wireFaultSchema,
  leaseExpiresAt: z.number(),
});
export type ActiveFault = z.infer<typeof activeFaultSchema>;

export const agentIdentitySchema = z.strictObject({
  name: z.string().min(1).max(253),
  zone: z.string().max(253).optional(),
  region: z.string().max(253).optional(),
  labels: labelsSchema.default({}),
});
export type AgentIdentity = z.infer<typeof agentIdentitySchema>;

/** Drivers, and the network mechanisms the agent's host offers. */
export const capabilitySchema = z.enum(['process', 'docker', 'nftables', 'netem']);
export type Capability = z.infer<typeof capabilitySchema>;

// Agent -> orchestrator.
export const helloMessageSchema = z.strictObject({
  type: z.literal('hello'),
  protocolVersion: z.number().int(),
  agent: agentIdentitySchema,
  capabilities: z.array(capabilitySchema),
  activeFaults: z.array(activeFaultSchema),
});
export const targetsMessageSchema = z.strictObject({
  type: z.literal('targets'),
  id,
  targets: z.array(targetSchema),
});
export const injectedMessageSchema = z.strictObject({
  type: z.literal('injected'),
  id,
  faultId: id,
  injectedAt: z.number(),
  leaseExpiresAt: z.number(),
  /** How the fault was applied, for the journal (e.g. "host signal to pid 123"). */
  detail: z.string().optional(),
  /**
   * For network faults: the mechanism used, e.g. "proxy+nftables (sch_netem is not in this
   * kernel)", so the journal says how the fault was made.
   */
  mechanism: z.string().optional(),
});
export const revertOutcomeSchema = z.enum(['reverted', 'nothing-to-revert', 'target-gone']);
export const revertReasonSchema = z.enum(['requested', 'lease-expired', 'agent-shutdown', 'ledger-recovery']);
export const revertedMessageSchema = z.strictObject({
  type: z.literal('reverted'),
  /** Absent when the agent reverted on its own (lease expiry, recovery). */
  id: id.optional(),
  faultId: id,
  runId: id,
  revertedAt: z.number(),
  outcome: revertOutcomeSchema,
  reason: revertReasonSchema,
  detail: z.string().optional(),
});
export const renewedMessageSchema = z.strictObject({
  type: z.literal('renewed'),
  id,
  /** Fault ids the agent no longer holds (already reverted). */
  unknown: z.array(id),
});
export const failedMessageSchema = z.strictObject({
  type: z.literal('failed'),
  id,
  error: wireErrorSchema,
});
/** An answer to a frame that could not be read; `id` is set when the frame had one. */
export const errorMessageSchema = z.strictObject({
  type: z.literal('error'),
  id: id.optional(),
  error: wireErrorSchema,
});

export const agentMessageSchema = z.discriminatedUnion('type', [
  helloMessageSchema,
  targetsMessageSchema,
  injectedMessageSchema,
  revertedMessageSchema,
  renewedMessageSchema,
  failedMessageSchema,
  errorMessageSchema,
]);
export type AgentMessage = z.infer<typeof agentMessageSchema>;

// Orchestrator -> agent.
export const welcomeMessageSchema = z.strictObject({
  type: z.literal('welcome'),
  protocolVersion: z.number().int(),
  sessionId: id,
  /** The orchestrator pings this often; the agent drops the link after 2.5 intervals without one. */
  heartbeatMs: z.number().int().positive(),
});
export const listTargetsMessageSchema = z.strictObject({
  type: z.literal('list-targets'),
  id,
  driver: driverSchema,
  selector: selectorSchema,
});
export const injectMessageSchema = z.strictObject({
  type: z.literal('inject'),
  id,
  runId: id,
  faultId: id,
  target: targetSchema,
  fault: wireFaultSchema,
  /** The agent reverts the fault by itself if the lease is not renewed within this. */
  leaseMs: z
    .number()
    .int()
    .positive()
    .max(24 * 3_600_000),
});
export const renewMessageSchema = z.strictObject({
  type: z.literal('renew'),
  id,
  faultIds: z.array(id).max(10_000),
  leaseMs: z
    .number()
    .int()
    .positive()
    .max(24 * 3_600_000),
});
export const revertMessageSchema = z.strictObject({
  type: z.literal('revert'),
  id,
  runId: id,
  faultId: id,
});

export const orchestratorMessageSchema = z.discriminatedUnion('type', [
  welcomeMessageSchema,
  listTargetsMessageSchema,
  injectMessageSchema,
  renewMessageSchema,
  revertMessageSchema,
  errorMessageSchema,
]);
export type OrchestratorMessage = z.infer<typeof orchestratorMessageSchema>;

export type MessageOf<U extends { type: string }, T extends U['type']> = Extract<U, { type: T }>;
