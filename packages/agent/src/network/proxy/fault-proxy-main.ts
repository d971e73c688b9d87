// The fault proxy as a process, started by the agent inside a target's network namespace:
//
//   node fault-proxy-main.js --fault <tag> --config <base64url JSON>
//
// stdout: one JSON line, `{"ready":true,"pid":..,"ports":[..]}` or `{"error":".."}` (exit 1).
// stdin: `{"deadline":<epoch ms>}` lines move the deadline. stderr: JSON log lines.
// It ends (exit 0) at the deadline or on SIGTERM/SIGINT. `--fault` is unused here: it stays in
// argv so the agent can find this process again in /proc/*/cmdline.
import { parseArgs } from 'node:util';
import { deadlineUpdateSchema, decodeFaultProxyConfig, FaultProxy, formatIssues } from './fault-proxy.js';

/** A stdin line longer than this is dropped: deadline updates are tiny. */
const MAX_LINE_CHARS = 64 * 1024;

function log(msg: string, level: 'info' | 'warn' | 'error' = 'info', fields: object = {}): void {
  process.stderr.write(`${JSON.stringify({ level, time: Date.now(), pid: process.pid, msg, ...fields })}\n`);
}

function answer(line: Record<string, unknown>): void {
  process.stdout.write(`${JSON.stringify(line)}\n`);
}

function fail(error: string): number {
  answer({ error });
  return 1;
}

/** Feeds `{"deadline":..}` lines from stdin to the proxy; anything else is logged and skipped. */
function followStdin(proxy: FaultProxy): void {
  let pending = '';
  const onLine = (line: string): void => {
    const text = line.trim();
    if (text === '') return;
    let json: unknown;
    try {
      json = JSON.parse(text);
    } catch {
      log(`stdin: skipped a line that is not JSON: ${text.slice(0, 200)}`, 'warn');
      return;
    }
    const update = deadlineUpdateSchema.safeParse(json);
    if (!update.success) {
      log(`stdin: skipped a bad deadline update: ${formatIssues(update.error.issues)}`, 'warn');
      return;
    }
    proxy.setDeadline(update.data.deadline);
  };
  process.stdin.setEncoding('utf8');
  process.stdin.on('data', (chunk: string) => {
    pending += chunk;
    let newline = pending.indexOf('\n');
    while (newline !== -1) {
      onLine(pending.slice(0, newline));
      pending = pending.slice(newline + 1);
      newline = pending.indexOf('\n');
    }
    if (pending.length > MAX_LINE_CHARS) {
      log(`stdin: dropped a line longer than ${MAX_LINE_CHARS} characters`, 'warn');
      pending = '';
    }
  });
  // The agent went away: the lease it granted still holds, so run on until the deadline.
  process.stdin.on('end', () => {
    onLine(pending);
    log(`stdin closed; running until the deadline ${new Date(proxy.deadline).toISOString()}`);
  });
  process.stdin.on('error', (error) => log(`stdin: ${error.message}`, 'warn'));
}

async function main(): Promise<number> {
  // A reader that went away must not turn a log line or the ready line into a crash.
  process.stdout.on('error', () => undefined);
  process.stderr.on('error', () => undefined);

  let values: { fault?: string | undefined; config?: string | undefined };
  try {
    ({ values } = parseArgs({
      args: process.argv.slice(2),
      options: { fault: { type: 'string' }, config: { type: 'string' } },
      strict: true,
      allowPositionals: false,
    }));
  } catch (error) {
    return fail(`usage: ${(error as Error).message}; expected --fault <tag> --config <base64url JSON>`);
  }
  if (values.fault === undefined || values.fault === '') return fail('usage: --fault <tag> is required');
  if (values.config === undefined) return fail('usage: --config <base64url JSON> is required');
  const decoded = decodeFaultProxyConfig(values.config);
  if (!decoded.ok) return fail(decoded.error);

  const proxy = new FaultProxy(decoded.config, { log: (msg) => log(msg, 'warn') });
  const stop = (signal: NodeJS.Signals): void => {
    log(`${signal}: stopping`);
    void proxy.stop();
  };
  process.once('SIGTERM', stop);
  process.once('SIGINT', stop);
  // The agent's terminal or session may go away; only the deadline or a signal above ends us.
  process.on('SIGHUP', () => undefined);

  let ports: number[];
  try {
    ports = await proxy.start();
  } catch (error) {
    return fail((error as Error).message);
  }
  answer({ ready: true, pid: process.pid, ports });
  log(`fault ${values.fault}: listening on ${ports.join(', ')}`);
  followStdin(proxy);
  const end = await proxy.ended;
  // The counters and the lateness of delayed chunks, for whoever reads the log (the bench does).
  log(`fault ${values.fault}: ${end === 'deadline' ? 'deadline reached' : 'stopped'}`, 'info', {
    stats: proxy.stats,
    lateness: proxy.lateness,
  });
  return 0;
}

// Exit explicitly: stdin, when still open, would keep the process alive.
process.exit(await main());
