import type { z } from 'zod';
import { SimianError } from './errors.js';
import { MAX_FRAME_BYTES } from './messages.js';

export type DecodeResult<T> = { ok: true; message: T } | { ok: false; error: SimianError; id?: string };

/**
 * Parses one WebSocket frame at the boundary: size, JSON, then the message schema. Never throws,
 * so a bad frame cannot take down either end.
 */
export function decodeFrame<S extends z.ZodType>(
  schema: S,
  data: Buffer | ArrayBuffer | Buffer[] | string,
  maxBytes = MAX_FRAME_BYTES,
): DecodeResult<z.infer<S>> {
  const buffer = typeof data === 'string' ? undefined : frameToBuffer(data);
  // Size first, so an oversized frame is never decoded into a string at all.
  const size = buffer === undefined ? Buffer.byteLength(data as string) : buffer.length;
  if (size > maxBytes) {
    return {
      ok: false,
      error: new SimianError(
        'SIMIAN_MESSAGE_TOO_LARGE',
        `message of ${size} bytes exceeds the limit of ${maxBytes} bytes`,
      ),
    };
  }
  const text = buffer === undefined ? (data as string) : buffer.toString('utf8');
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (cause) {
    return {
      ok: false,
      error: new SimianError('SIMIAN_BAD_MESSAGE', `message is not JSON: ${(cause as Error).message}`),
    };
  }
  const parsed = schema.safeParse(json);
  if (parsed.success) return { ok: true, message: parsed.data };
  const first = parsed.error.issues[0];
  const where = first && first.path.length > 0 ? `${first.path.join('.')}: ` : '';
  const id =
    typeof json === 'object' && json !== null && typeof (json as { id?: unknown }).id === 'string'
      ? (json as { id: string }).id
      : undefined;
  return {
    ok: false,
    error: new SimianError(
      'SIMIAN_BAD_MESSAGE',
      `invalid message: ${where}${first?.message ?? 'does not match the schema'}`,
    ),
    ...(id === undefined ? {} : { id }),
  };
}

function frameToBuffer(data: Buffer | ArrayBuffer | Buffer[]): Buffer {
  if (Buffer.isBuffer(data)) return data;
  if (Array.isArray(data)) return Buffer.concat(data);
  return Buffer.from(data);
}
