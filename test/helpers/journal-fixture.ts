import type { Journal } from '../../packages/orchestrator/src/runner/journal.js';

/**
 * A realistic journal of a latency experiment: one probe sampled every 100 ms through
 * before (2 s), a 3 s fault (every 4th sample failing, the rest slow) and after (2 s), recovered
 * 400 ms after the revert. Tests state only what they vary.
 */
export function makeJournal(
  options: {
    runId?: string;
    experiment?: string;
    verdict?: Journal['verdict'];
    reason?: string;
    startedAt?: number;
    probes?: string[];
  } = {},
): Journal {
  const t0 = options.startedAt ?? Date.UTC(2026, 10, 22, 10, 0, 0);
  const injectAt = t0 + 2_100;
  const revertAt = injectAt + 3_000;
  const end = revertAt + 2_000;
  const probes = options.probes ?? ['web-up'];
  const samples: Journal['samples'] = [];
  for (const probe of probes) {
    for (let at = t0 + 100; at < end; at += 100) {
      const phase = at < injectAt ? 'before' : at < revertAt ? 'during' : 'after';
      const index = samples.length;
      const ok = phase !== 'during' || index % 4 !== 0;
      samples.push({
        probe,
        phase,
        at,
        latencyMs: phase === 'during' ? 180 + (index % 5) * 10 : 4 + (index % 3),
        ok,
        ...(ok ? { status: 200 } : { error: 'timeout after 1s' }),
      });
    }
  }
  const target = {
    driver: 'process' as const,
    id: '4242:987654',
    name: 'web-1',
    labels: { app: 'web' },
    zone: 'zone-a',
    agent: 'local-test',
  };
  return {
    apiVersion: 'simian.dev/v1alpha1',
    kind: 'RunJournal',
    runId: options.runId ?? '20261122T100000Z-abc123',
    experiment: { name: options.experiment ?? 'latency-web', file: 'experiments/latency.yaml' },
    seed: 7,
    startedAt: t0,
    endedAt: end,
    verdict: options.verdict ?? 'passed',
    reason: options.reason ?? 'steady state held before, during and after the fault; recovered in 400ms',
    phases: [
      { name: 'resolve', startedAt: t0, endedAt: t0 + 50 },
      { name: 'before', startedAt: t0 + 50, endedAt: injectAt },
      { name: 'inject', startedAt: injectAt, endedAt: injectAt + 20 },
      { name: 'hold', startedAt: injectAt + 20, endedAt: revertAt },
      { name: 'revert', startedAt: revertAt, endedAt: revertAt + 15 },
      { name: 'after', startedAt: revertAt + 15, endedAt: end },
    ],
    candidates: 3,
    targets: [target],
    faults: [
      {
        faultId: `${options.runId ?? '20261122T100000Z-abc123'}/0/4242`,
        agent: 'local-test',
        target,
        fault: { type: 'latency', delay: '200ms', jitter: '0ms', direction: 'inbound', ports: [8080] },
        injectedAt: injectAt + 10,
        revertedAt: revertAt + 10,
        revertOutcome: 'reverted',
        revertReason: 'requested',
        detail: 'proxy on :8080 <script>alert(1)</script>',
        mechanism: 'proxy+nftables',
      },
    ],
    probes: probes.map((name) => ({
      name,
      before: { ok: true, samples: 20, successRate: 1, p50: 5, p95: 6, p99: 6 },
      during: { ok: true, samples: 30, successRate: 0.75, p50: 190, p95: 220, p99: 220 },
      after: { ok: true, samples: 20, successRate: 1, p50: 5, p95: 6, p99: 6 },
    })),
    timeToRecoverMs: 400,
    samples,
  };
}
