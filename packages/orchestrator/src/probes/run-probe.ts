import type { Probe } from '../experiments/schema.js';
import { runCommandProbe } from './command-probe.js';
import { runHttpProbe } from './http-probe.js';
import type { ProbeAttempt } from './probe-sample.js';

/** Makes one attempt of whichever kind `probe` is. */
export function runProbe(probe: Probe, signal?: AbortSignal): Promise<ProbeAttempt> {
  if (probe.http) return runHttpProbe(probe.http, signal);
  if (probe.command) return runCommandProbe(probe.command, signal);
  throw new Error(`probe '${probe.name}' has neither http nor command`);
}
