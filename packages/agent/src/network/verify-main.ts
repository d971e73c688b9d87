// Run inside a target's network namespace (`nsenter -t PID -n node verify-main.js HOST PORT TOKEN
// TIMEOUT_MS`) to prove an outbound redirect from there: prints {"rttMs": n} or {"error": "..."}.
import { verifyRoundTrip } from './verify-round-trip.js';

const [host = '', port = '0', token = '', timeout = '5000'] = process.argv.slice(2);
try {
  const rttMs = await verifyRoundTrip(host, Number(port), token, Number(timeout));
  process.stdout.write(`${JSON.stringify({ rttMs })}\n`);
} catch (error) {
  process.stdout.write(`${JSON.stringify({ error: (error as Error).message })}\n`);
  process.exitCode = 1;
}
