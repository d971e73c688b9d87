import { connect } from 'node:net';
import { performance } from 'node:perf_hooks';

/** The first bytes that make a fault proxy answer itself instead of forwarding (see the proxy). */
export function verifyRequest(token: string): string {
  return `SIMIAN-VERIFY ${token}\n`;
}

export function verifyReply(token: string): string {
  return `SIMIAN-VERIFIED ${token}\n`;
}

/**
 * One round trip through a redirect to a fault proxy: proof that the rule and the proxy are in
 * place, and for latency how long the path takes. Resolves with the round trip in ms.
 */
export function verifyRoundTrip(
  host: string,
  port: number,
  token: string,
  timeoutMs: number,
): Promise<number> {
  return new Promise((resolve, reject) => {
    const socket = connect({ host, port });
    const expected = verifyReply(token);
    let received = '';
    let started = 0;
    const timer = setTimeout(() => {
      socket.destroy();
      reject(new Error(`no answer from the fault proxy through ${host}:${port} within ${timeoutMs}ms`));
    }, timeoutMs);
    socket.setEncoding('utf8');
    socket.once('connect', () => {
      started = performance.now();
      socket.write(verifyRequest(token));
    });
    socket.on('data', (chunk: string) => {
      received += chunk;
      if (received.length < expected.length) return;
      clearTimeout(timer);
      socket.destroy();
      if (received.startsWith(expected)) resolve(performance.now() - started);
      else
        reject(new Error(`${host}:${port} answered, but not the fault proxy: the redirect is not in effect`));
    });
    socket.once('error', (error) => {
      clearTimeout(timer);
      reject(new Error(`cannot reach the fault proxy through ${host}:${port}: ${error.message}`));
    });
    socket.once('close', () => {
      clearTimeout(timer);
      if (received.length < expected.length)
        reject(
          new Error(
            `${host}:${port} closed the connection: the redirect to the fault proxy is not in effect`,
          ),
        );
    });
  });
}
