import { durationMs } from '@simian/protocol';
import type { Probe } from '../experiments/schema.js';
import type { ProbeAttempt } from './probe-sample.js';

export type HttpProbeSpec = NonNullable<Probe['http']>;

/** Longest expected-body text quoted in an error message. */
const MAX_QUOTED = 60;

/**
 * Sends one request and judges the response. The timeout covers connecting, the headers and
 * reading the whole body. Resolves with a failed attempt for anything the target does wrong;
 * an aborted `signal` resolves with error `aborted`.
 */
export async function runHttpProbe(spec: HttpProbeSpec, signal?: AbortSignal): Promise<ProbeAttempt> {
  const timeoutMs = durationMs(spec.timeout);
  const at = Date.now();
  const started = performance.now();
  const elapsed = () => performance.now() - started;
  if (signal?.aborted) return { at, latencyMs: 0, ok: false, error: 'aborted' };

  const timeout = AbortSignal.timeout(timeoutMs);
  const combined = signal ? AbortSignal.any([signal, timeout]) : timeout;
  let status: number | undefined;
  try {
    const response = await fetch(spec.url, {
      method: spec.method,
      headers: { 'user-agent': 'simian-probe', ...spec.headers },
      body: spec.body,
      redirect: 'follow',
      signal: combined,
    });
    status = response.status;
    const found = await drainBody(response, spec.expect.body);
    const latencyMs = elapsed();
    const error = judgeResponse(status, spec.expect.status, spec.expect.body, found);
    return error === undefined
      ? { at, latencyMs, ok: true, status }
      : { at, latencyMs, ok: false, status, error };
  } catch (error) {
    const latencyMs = elapsed();
    const reason =
      signal?.aborted === true
        ? 'aborted'
        : timeout.aborted
          ? `timed out after ${spec.timeout}`
          : describeFetchError(error, spec.url);
    return status === undefined
      ? { at, latencyMs, ok: false, error: reason }
      : { at, latencyMs, ok: false, status, error: reason };
  }
}

/**
 * Reads the body to its end and reports whether it contained `needle`, keeping only a tail of
 * `needle.length - 1` characters between chunks so a large body is never held in memory.
 */
async function drainBody(response: Response, needle: string | undefined): Promise<boolean> {
  if (!response.body) return needle === undefined || needle === '';
  const reader = response.body.getReader();
  const decoder = new TextDecoder();
  let found = needle === undefined || needle === '';
  let tail = '';
  for (;;) {
    const { done, value } = await reader.read();
    const text = done ? decoder.decode() : decoder.decode(value, { stream: true });
    if (!found && needle !== undefined) {
      const window = tail + text;
      if (window.includes(needle)) found = true;
      else tail = window.slice(Math.max(0, window.length - (needle.length - 1)));
    }
    if (done) return found;
  }
}

function judgeResponse(
  status: number,
  expected: number | number[],
  needle: string | undefined,
  found: boolean,
): string | undefined {
  const accepted = Array.isArray(expected) ? expected : [expected];
  if (!accepted.includes(status)) {
    const want = accepted.length === 1 ? `${accepted[0]}` : `one of ${accepted.join(', ')}`;
    return `status ${status}, expected ${want}`;
  }
  if (!found && needle !== undefined) return `body does not contain ${quote(needle)}`;
  return undefined;
}

function quote(text: string): string {
  const short = text.length > MAX_QUOTED ? `${text.slice(0, MAX_QUOTED)}…` : text;
  return JSON.stringify(short);
}

const ERROR_CODES: Record<string, string> = {
  ECONNREFUSED: 'connection refused',
  ECONNRESET: 'connection reset',
  EPIPE: 'connection closed while sending',
  EHOSTUNREACH: 'host unreachable',
  ENETUNREACH: 'network unreachable',
  ETIMEDOUT: 'connection timed out',
  EAI_AGAIN: 'DNS lookup failed',
  UND_ERR_CONNECT_TIMEOUT: 'connection timed out',
  UND_ERR_SOCKET: 'connection closed by the server',
  UND_ERR_HEADERS_OVERFLOW: 'response headers too large',
};

/** Node's fetch hides the cause behind `TypeError: fetch failed`; name what actually went wrong. */
function describeFetchError(error: unknown, url: string): string {
  const cause = error instanceof Error && error.cause !== undefined ? error.cause : error;
  const code = errorCode(cause);
  if (code === 'ENOTFOUND') return `host not found: ${new URL(url).hostname}`;
  // The fetch standard blocks ports such as 1, 25 and 6000 outright.
  if (cause instanceof Error && cause.message === 'bad port') {
    return `fetch refuses to connect to port ${new URL(url).port}`;
  }
  if (code !== undefined && ERROR_CODES[code] !== undefined) return ERROR_CODES[code];
  if (cause instanceof Error) return code ? `${cause.message} (${code})` : cause.message;
  return String(cause);
}

function errorCode(error: unknown): string | undefined {
  if (typeof error !== 'object' || error === null) return undefined;
  if ('code' in error && typeof error.code === 'string') return error.code;
  // Connecting to a name with several addresses fails with an AggregateError of attempts.
  if (error instanceof AggregateError) return errorCode(error.errors[0]);
  return undefined;
}
