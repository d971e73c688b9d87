import { formatDuration, parseDuration, SimianError } from '@simian/protocol';

export function durationFlag(flag: string, minMs = 1) {
  return (value: string): number => {
    const ms = parseDuration(value);
    if (ms === undefined || ms < minMs) {
      const floor = minMs > 1 ? ` of at least ${formatDuration(minMs)}` : '';
      throw new SimianError(
        'SIMIAN_USAGE',
        `${flag}: expected a duration${floor} such as 500ms, 30s or 5m, got ${JSON.stringify(value)}`,
      );
    }
    return ms;
  };
}

/** Below this a lease could run out between two renewals (every lease/3, at least 100ms apart). */
export const MIN_LEASE_MS = 1_000;

export function intFlag(flag: string, min: number, max: number) {
  return (value: string): number => {
    const n = Number(value);
    if (!/^\d+$/.test(value) || n < min || n > max) {
      throw new SimianError(
        'SIMIAN_USAGE',
        `${flag}: expected a whole number from ${min} to ${max}, got ${JSON.stringify(value)}`,
      );
    }
    return n;
  };
}

export function labelFlag(value: string, previous: Record<string, string> = {}): Record<string, string> {
  const match = /^([^=\s]+)=([^\s]*)$/.exec(value);
  if (!match)
    throw new SimianError('SIMIAN_USAGE', `--label: expected key=value, got ${JSON.stringify(value)}`);
  return { ...previous, [match[1] as string]: match[2] as string };
}

/** `HOST:PORT`, `:PORT` or `PORT`; IPv6 hosts in brackets. */
export function listenFlag(value: string): { host: string; port: number } {
  const match = /^(?:\[([^\]]+)\]|([^:]*)):(\d+)$/.exec(value) ?? /^()()(\d+)$/.exec(value);
  const port = Number(match?.[3]);
  if (!match || port > 65_535) {
    throw new SimianError(
      'SIMIAN_USAGE',
      `--listen: expected HOST:PORT such as 127.0.0.1:7340, got ${JSON.stringify(value)}`,
    );
  }
  return { host: match[1] || match[2] || '127.0.0.1', port };
}

/** Accepts http(s):// or ws(s):// and returns the base http URL. */
export function orchestratorUrlFlag(value: string): URL {
  let url: URL;
  try {
    url = new URL(value);
  } catch {
    throw new SimianError(
      'SIMIAN_USAGE',
      `--orchestrator: expected a URL such as http://127.0.0.1:7340, got ${JSON.stringify(value)}`,
    );
  }
  if (!['http:', 'https:', 'ws:', 'wss:'].includes(url.protocol)) {
    throw new SimianError(
      'SIMIAN_USAGE',
      `--orchestrator: expected http://, https://, ws:// or wss://, got ${url.protocol}//`,
    );
  }
  return url;
}
