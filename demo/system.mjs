// The demo's small local system: N replicas of demo/service.mjs, each a separate OS process, behind
// the round-robin balancer of demo/balancer.mjs. The replicas carry their labels in the
// SIMIAN_LABELS environment variable, which is how simian's `process` driver finds and labels them.
import { spawn } from 'node:child_process';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { startBalancer } from './balancer.mjs';

const SERVICE = fileURLToPath(new URL('./service.mjs', import.meta.url));
const READY_TIMEOUT_MS = 10_000;
const EXIT_TIMEOUT_MS = 5_000;

/**
 * @typedef {{ pid: number, name: string, zone: string, port: number }} Replica
 * @typedef {{ replica: Replica, child: import('node:child_process').ChildProcess, exited: Promise<void> }} Running
 */

/**
 * Spawns one replica and resolves once it printed its ready line.
 *
 * @param {string} name
 * @param {string} zone
 * @param {string} app
 * @param {number} port 0 picks a free one
 * @returns {Promise<Running>}
 */
async function spawnReplica(name, zone, app, port) {
  const child = spawn(process.execPath, [SERVICE, '--port', String(port), '--name', name], {
    env: { ...process.env, SIMIAN_LABELS: `app=${app},simian.dev/zone=${zone},simian.dev/name=${name}` },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const exited = new Promise((resolve) => {
    if (child.exitCode !== null || child.signalCode !== null) resolve(undefined);
    else child.once('exit', () => resolve(undefined));
  });
  let stderr = '';
  child.stderr?.setEncoding('utf8');
  child.stderr?.on('data', (chunk) => {
    if (stderr.length < 4_000) stderr += chunk;
  });

  const lines = createInterface({ input: /** @type {import('node:stream').Readable} */ (child.stdout) });
  try {
    const port = await new Promise((resolve, reject) => {
      const timer = setTimeout(
        () => reject(new Error(`demo: replica ${name} did not become ready within ${READY_TIMEOUT_MS} ms`)),
        READY_TIMEOUT_MS,
      );
      child.once('error', (err) => {
        clearTimeout(timer);
        reject(new Error(`demo: cannot start replica ${name}: ${err.message}`));
      });
      child.once('exit', (code, signal) => {
        clearTimeout(timer);
        reject(
          new Error(
            `demo: replica ${name} exited before it was ready (${signal ?? `code ${code}`}): ${stderr.trim()}`,
          ),
        );
      });
      lines.once('line', (line) => {
        clearTimeout(timer);
        try {
          const ready = JSON.parse(line);
          if (ready?.ready === true && Number.isInteger(ready.port)) resolve(ready.port);
          else reject(new Error(`demo: replica ${name} printed an unexpected first line: ${line}`));
        } catch {
          reject(new Error(`demo: replica ${name} printed an unexpected first line: ${line}`));
        }
      });
    });
    lines.close();
    child.stdout?.resume();
    return { replica: { pid: /** @type {number} */ (child.pid), name, zone, port }, child, exited };
  } catch (err) {
    lines.close();
    await stopReplica({ child, exited });
    throw err;
  }
}

/**
 * Resumes (a paused replica cannot handle SIGTERM), terminates and, if it lingers, kills one replica,
 * then waits for it to exit.
 *
 * @param {{ child: import('node:child_process').ChildProcess, exited: Promise<void> }} running
 */
async function stopReplica({ child, exited }) {
  if (child.exitCode !== null || child.signalCode !== null || child.pid === undefined) return;
  const signal = (/** @type {NodeJS.Signals} */ name) => {
    try {
      child.kill(name);
    } catch {
      // Already gone: nothing to signal.
    }
  };
  signal('SIGCONT');
  signal('SIGTERM');
  let timer;
  const lingered = await Promise.race([
    exited.then(() => false),
    new Promise((resolve) => {
      timer = setTimeout(() => resolve(true), EXIT_TIMEOUT_MS);
    }),
  ]);
  clearTimeout(timer);
  if (lingered) {
    signal('SIGCONT');
    signal('SIGKILL');
    await exited;
  }
}

/**
 * Starts the demo system and resolves once every replica and the balancer are ready.
 *
 * @param {{ lbPort?: number, replicas?: number, app?: string, replicaBasePort?: number }} [options] `app`
 *   is the replicas' app label (default demo-web; tests use their own so they never hit each other),
 *   `lbPort` defaults to 18080 (0 picks a free port), `replicas` to 3; replicas alternate between
 *   zone-a and zone-b and listen on `replicaBasePort` + 0, 1, ... (default 0: free ports). Fixed
 *   ports let an experiment name a replica's port, as the demo's latency step does.
 * @returns {Promise<{ lbUrl: string, lbPort: number, replicas: Replica[], stop: () => Promise<void> }>}
 */
export async function startDemoSystem({
  lbPort = 18080,
  replicas = 3,
  app = 'demo-web',
  replicaBasePort = 0,
} = {}) {
  if (!Number.isInteger(replicas) || replicas < 1) {
    throw new Error(`demo: replicas must be a positive integer, got ${replicas}`);
  }
  const names = Array.from({ length: replicas }, (_, i) => ({
    name: `web-${i + 1}`,
    zone: i % 2 === 0 ? 'zone-a' : 'zone-b',
  }));
  const settled = await Promise.allSettled(
    names.map(({ name, zone }, i) =>
      spawnReplica(name, zone, app, replicaBasePort === 0 ? 0 : replicaBasePort + i),
    ),
  );
  /** @type {Running[]} */
  const running = settled.flatMap((s) => (s.status === 'fulfilled' ? [s.value] : []));
  const failed = settled.find((s) => s.status === 'rejected');
  if (failed) {
    await Promise.all(running.map(stopReplica));
    throw failed.reason;
  }

  let balancer;
  try {
    balancer = await startBalancer({
      port: lbPort,
      host: '127.0.0.1',
      backends: running.map((r) => `127.0.0.1:${r.replica.port}`),
    });
  } catch (err) {
    await Promise.all(running.map(stopReplica));
    const message = err instanceof Error ? err.message : String(err);
    if (/already in use/.test(message)) {
      throw new Error(
        `demo: the load balancer port ${lbPort} on 127.0.0.1 is already in use (is another demo still running?); stop it or choose another lbPort`,
      );
    }
    throw err;
  }

  let stopping;
  const lb = balancer;
  return {
    lbUrl: lb.url,
    lbPort: lb.port,
    replicas: running.map((r) => ({ ...r.replica })),
    stop() {
      stopping ??= (async () => {
        await Promise.all(running.map(stopReplica));
        await lb.close();
      })();
      return stopping;
    },
  };
}
