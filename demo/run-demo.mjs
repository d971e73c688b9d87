// `pnpm demo`: starts the small local system (three replicas in two zones behind a balancer),
// runs the experiments under experiments/demo/ against it with the `process` driver, prints
// what happened, and stops everything it started.
import { spawn } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { startDemoSystem } from './system.mjs';

const root = fileURLToPath(new URL('..', import.meta.url));
const cli = join(root, 'packages/orchestrator/dist/cli/main.js');
const dir = join(root, 'experiments/demo');
/** What each demo experiment is meant to show. */
const expected = {
  'demo-latency-one-replica': 'passed',
  'demo-zone-outage': 'passed',
  'demo-kill-one-replica': 'passed',
  'demo-pause-all-replicas': 'failed',
};
const verdictOf = { 0: 'passed', 1: 'failed', 2: 'aborted', 3: 'error', 4: 'invalid' };

function runSimian(args) {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [cli, ...args], { stdio: 'inherit', env: process.env });
    child.on('exit', (code, signal) => resolve(code ?? (signal ? 128 : 1)));
  });
}

function processState(pid) {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2).split(' ')[0];
  } catch {
    return 'gone';
  }
}

const lbPort = Number(process.env.DEMO_PORT ?? 18080);
console.log(
  `simian demo: starting 3 replicas in zones zone-a and zone-b behind a balancer on 127.0.0.1:${lbPort}`,
);
// The replicas listen on fixed ports after the balancer's: the latency step names web-1's port.
const system = await startDemoSystem({ lbPort, replicaBasePort: lbPort + 1 });
const results = [];
let ok = true;
try {
  for (const replica of system.replicas)
    console.log(`  ${replica.name}  pid ${replica.pid}  ${replica.zone}  127.0.0.1:${replica.port}`);
  const files = readdirSync(dir)
    .filter((name) => name.endsWith('.yaml'))
    .sort();
  for (const file of files) {
    console.log(`\n=== simian run experiments/demo/${file}`);
    const code = await runSimian(['run', join(dir, file)]);
    const name = /name:\s*(\S+)/.exec(readFileSync(join(dir, file), 'utf8'))?.[1] ?? file;
    const verdict = verdictOf[code] ?? `exit ${code}`;
    const want = expected[name];
    results.push({ file, verdict, want });
    if (want !== undefined && want !== verdict) ok = false;
  }
  console.log('\n=== what happened');
  for (const { file, verdict, want } of results) {
    console.log(
      `  ${file.padEnd(30)} ${verdict.padEnd(8)} ${want === undefined ? '' : want === verdict ? '(as expected)' : `(expected ${want})`}`,
    );
  }
  for (const replica of system.replicas) {
    const state = processState(replica.pid);
    const shown = state === 'gone' ? 'killed by the experiment' : state === 'T' ? 'STILL PAUSED' : 'running';
    if (state === 'T') ok = false;
    console.log(`  ${replica.name} (pid ${replica.pid}): ${shown}`);
  }
} finally {
  await system.stop();
  console.log('\nsimian demo: stopped every process it started.');
}
process.exitCode = ok ? 0 : 1;
