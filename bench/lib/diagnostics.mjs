// Informational breakdowns: where simian's time goes on the kill and noop paths. The agent runs
// in the bench's process, so wrapping methods of its (shared) classes here times them in place,
// without touching simian's code.
import { randomUUID } from 'node:crypto';
import { performance } from 'node:perf_hooks';
import { summarize } from './stats.mjs';

/**
 * Wraps async methods (`{ name: [prototype, methodName] }`) to record how long each call takes.
 *
 * @param {Record<string, [object, string]>} methods
 */
export function instrument(methods) {
  /** @type {Record<string, number[]>} */
  const samples = {};
  /** @type {Array<() => void>} */
  const restores = [];
  for (const [name, [prototype, method]] of Object.entries(methods)) {
    const original = prototype[method];
    samples[name] = [];
    prototype[method] = async function timed(...args) {
      const t0 = performance.now();
      try {
        return await original.apply(this, args);
      } finally {
        samples[name].push(performance.now() - t0);
      }
    };
    restores.push(() => {
      prototype[method] = original;
    });
  }
  return {
    samples,
    reset() {
      for (const list of Object.values(samples)) list.length = 0;
    },
    summaries() {
      return Object.fromEntries(Object.entries(samples).map(([name, list]) => [name, summarize(list)]));
    },
    restore() {
      for (const restore of restores.splice(0)) restore();
    },
  };
}

/**
 * Time to decode one frame at each end (JSON.parse + zod), the way hub and agent do it.
 *
 * @param {typeof import('../../packages/protocol/dist/index.js')} protocol
 * @param {import('@simian/protocol').Target} target
 */
export function measureDecode(protocol, target, count = 5_000) {
  const inject = Buffer.from(
    JSON.stringify({
      type: 'inject',
      id: randomUUID(),
      runId: 'bench-decode',
      faultId: randomUUID(),
      target,
      fault: { type: 'noop' },
      leaseMs: 30_000,
    }),
  );
  const injected = Buffer.from(
    JSON.stringify({
      type: 'injected',
      id: randomUUID(),
      faultId: randomUUID(),
      injectedAt: Date.now(),
      leaseExpiresAt: Date.now() + 30_000,
      detail: 'noop',
    }),
  );
  const time = (schema, frame) => {
    const samples = [];
    for (let i = 0; i < count + 500; i += 1) {
      const t0 = performance.now();
      const decoded = protocol.decodeFrame(schema, frame);
      const elapsed = performance.now() - t0;
      if (!decoded.ok) throw new Error(`bench frame does not decode: ${decoded.error.message}`);
      if (i >= 500) samples.push(elapsed);
    }
    return summarize(samples);
  };
  const parse = (frame) => {
    const samples = [];
    for (let i = 0; i < count + 500; i += 1) {
      const t0 = performance.now();
      JSON.parse(frame.toString('utf8'));
      if (i >= 500) samples.push(performance.now() - t0);
    }
    return summarize(samples);
  };
  return {
    injectFrame: time(protocol.orchestratorMessageSchema, inject),
    injectedFrame: time(protocol.agentMessageSchema, injected),
    injectJsonParseOnly: parse(inject),
  };
}
