// (a) Kill latency: simian's real inject path (orchestrator -> WebSocket -> agent -> host signal)
// against a direct dockerode `container.kill()`, each on a fresh, identical container, observed the
// same way: a Docker `wait` request armed (its response headers received) before the kill, and
// the container counted dead when the wait's body arrives.
import { randomUUID } from 'node:crypto';
import { performance } from 'node:perf_hooks';
import { setTimeout as sleep } from 'node:timers/promises';
import { summarize, withTimeout } from './stats.mjs';

export const IMAGE = 'simian-test/busybox:1';
const CMD = ['/bin/busybox', 'httpd', '-f', '-p', '80', '-h', '/www'];
/** Every container this benchmark creates carries this label (value: the bench run's id). */
export const BENCH_LABEL = 'simian.bench/run';
const SLOT_LABEL = 'simian.bench/slot';
/** Pause between "started" and the kill, the same for both sides, so the Engine is idle again. */
const SETTLE_MS = 50;
const STEP_TIMEOUT_MS = 15_000;

/**
 * Arms a `POST /containers/{id}/wait` (condition not-running) and resolves once the Engine sent its
 * response headers, i.e. once the waiter is registered. `dead` resolves when the exit arrives.
 *
 * @param {import('dockerode')} docker
 * @param {string} id
 */
function armWait(docker, id) {
  const abort = new AbortController();
  return new Promise((resolve, reject) => {
    docker.modem.dial(
      {
        path: `/containers/${id}/wait?`,
        method: 'POST',
        isStream: true,
        abortSignal: abort.signal,
        statusCodes: { 200: true, 400: 'bad parameter', 404: 'no such container', 500: 'server error' },
        options: {},
      },
      (error, response) => {
        if (error) {
          reject(error);
          return;
        }
        const dead = new Promise((resolveDead, rejectDead) => {
          /** @type {number | undefined} */
          let at;
          let body = '';
          response.setEncoding('utf8');
          response.on('data', (chunk) => {
            at ??= performance.now();
            body += chunk;
          });
          response.on('end', () => {
            try {
              resolveDead({ at: at ?? performance.now(), status: JSON.parse(body) });
            } catch (parseError) {
              rejectDead(parseError);
            }
          });
          response.on('error', rejectDead);
        });
        // An aborted wait rejects `dead`; nobody may be listening any more.
        dead.catch(() => undefined);
        resolve({ dead, cancel: () => abort.abort() });
      },
    );
  });
}

/**
 * @param {{
 *   docker: import('dockerode'),
 *   session: import('../../packages/orchestrator/dist/index.js').AgentSession,
 *   iterations: number,
 *   runTag: string,
 *   track: (id: string) => void,
 *   untrack: (id: string) => void,
 *   progress: (line: string) => void,
 *   onWarmedUp?: () => void,
 * }} options
 */
export async function measureKillLatency(options) {
  const { docker, session, iterations, runTag, track, untrack, progress } = options;
  const runId = `bench-kill-${runTag}`;
  const samples = {
    simian: { deadMs: [], ackMs: [], signalMs: [] },
    direct: { deadMs: [], ackMs: [] },
  };
  /** @type {string | undefined} */
  let agentDetail;
  // The agent runs in this process, so the moment it sends its host signal is seen here.
  /** @type {{ pid: number, at: number | undefined } | undefined} */
  let watched;
  const realKill = process.kill;
  process.kill = function observedKill(pid, signal) {
    if (watched && pid === watched.pid) watched.at ??= performance.now();
    return realKill.call(process, pid, signal);
  };

  /** @param {'simian' | 'direct'} side @param {boolean} record */
  async function once(side, record) {
    const slot = `${side}-${randomUUID()}`;
    const container = await docker.createContainer({
      Image: IMAGE,
      Cmd: CMD,
      Labels: { [BENCH_LABEL]: runTag, [SLOT_LABEL]: slot },
      HostConfig: { RestartPolicy: { Name: 'no' } },
    });
    track(container.id);
    /** @type {{ dead: Promise<{ at: number, status: { StatusCode: number } }>, cancel: () => void } | undefined} */
    let wait;
    try {
      await container.start();
      // Resolving the target is the runner's job before it decides to inject: not timed. The
      // direct side makes the same call (and ignores it) so the Engine sees the same load.
      const { targets } = await session.request(
        { type: 'list-targets', driver: 'docker', selector: { labels: { [SLOT_LABEL]: slot } } },
        STEP_TIMEOUT_MS,
      );
      if (targets.length !== 1 || targets[0].id !== container.id) {
        throw new Error(`list-targets found ${targets.length} targets for slot ${slot}, expected 1`);
      }
      const { State } = await container.inspect();
      watched = side === 'simian' ? { pid: State.Pid, at: undefined } : undefined;
      wait = await withTimeout(armWait(docker, container.id), STEP_TIMEOUT_MS, 'arming the Docker wait');
      await sleep(SETTLE_MS);

      const t0 = performance.now();
      const ack =
        side === 'simian'
          ? session.request(
              {
                type: 'inject',
                runId,
                faultId: randomUUID(),
                target: targets[0],
                fault: { type: 'kill', signal: 'SIGKILL' },
                leaseMs: 30_000,
              },
              STEP_TIMEOUT_MS,
            )
          : container.kill({ signal: 'SIGKILL' });
      const acked = ack.then((reply) => ({ at: performance.now(), reply }));
      const [dead, ackResult] = await withTimeout(
        Promise.all([wait.dead, acked]),
        STEP_TIMEOUT_MS,
        `${side} kill of ${container.id.slice(0, 12)}`,
      );
      const what = `container ${container.id.slice(0, 12)}`;
      if (dead.status.StatusCode !== 137) {
        throw new Error(`${what} exited ${dead.status.StatusCode}, expected 137`);
      }
      if (side === 'simian' && watched?.at === undefined) {
        throw new Error(`the agent killed ${what} without a host signal to pid ${State.Pid}`);
      }
      if (!record) return;
      samples[side].deadMs.push(dead.at - t0);
      samples[side].ackMs.push(ackResult.at - t0);
      if (side === 'simian') {
        samples.simian.signalMs.push(/** @type {number} */ (watched?.at) - t0);
        agentDetail ??= ackResult.reply.detail;
      }
    } finally {
      watched = undefined;
      wait?.cancel();
      await container.remove({ force: true, v: true }).then(
        () => untrack(container.id),
        (error) => {
          // 404: already gone; 409: being removed (by the cleanup of an interrupted run).
          if (error.statusCode !== 404 && error.statusCode !== 409) {
            progress(`  could not remove container ${container.id}: ${error.message}`);
          }
        },
      );
    }
  }

  try {
    // One untimed pair first: the first create/kill after a quiet period is slower on both paths.
    await once('simian', false);
    await once('direct', false);
    options.onWarmedUp?.();
    for (let i = 0; i < iterations; i += 1) {
      await once('simian', true);
      await once('direct', true);
      if ((i + 1) % 5 === 0) progress(`  kill latency: ${i + 1}/${iterations} pairs`);
    }
  } finally {
    process.kill = realKill;
  }
  return {
    simian: {
      dead: summarize(samples.simian.deadMs),
      ack: summarize(samples.simian.ackMs),
      signal: summarize(samples.simian.signalMs),
    },
    direct: { dead: summarize(samples.direct.deadMs), ack: summarize(samples.direct.ackMs) },
    samples,
    agentDetail,
  };
}
