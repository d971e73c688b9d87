import { describe, expect, it } from 'vitest';
import { decodeFrame } from './decode.js';
import { agentMessageSchema, MAX_FRAME_BYTES } from './messages.js';

describe('decodeFrame', () => {
  it('accepts a valid message', () => {
    const frame = JSON.stringify({ type: 'renewed', id: 'r1', unknown: [] });
    expect(decodeFrame(agentMessageSchema, Buffer.from(frame))).toEqual({
      ok: true,
      message: { type: 'renewed', id: 'r1', unknown: [] },
    });
  });

  it('rejects text that is not JSON with a clear message', () => {
    const result = decodeFrame(agentMessageSchema, '{"type": ');
    expect(result.ok).toBe(false);
    if (!result.ok) {
      expect(result.error.code).toBe('SIMIAN_BAD_MESSAGE');
      expect(result.error.message).toMatch(/^message is not JSON: /);
    }
  });

  it('names the field of a message that does not match, and keeps its id for the reply', () => {
    const result = decodeFrame(
      agentMessageSchema,
      JSON.stringify({ type: 'renewed', id: 'r2', unknown: 'x' }),
    );
    expect(result).toMatchObject({ ok: false, id: 'r2' });
    if (!result.ok) expect(result.error.message).toMatch(/^invalid message: unknown: /);
  });

  it('rejects unknown message types and unknown fields', () => {
    expect(decodeFrame(agentMessageSchema, '{"type":"explode","id":"a"}').ok).toBe(false);
    const extra = decodeFrame(
      agentMessageSchema,
      JSON.stringify({ type: 'renewed', id: 'r', unknown: [], extra: 1 }),
    );
    expect(extra.ok).toBe(false);
  });

  it('rejects a frame over the size limit before parsing it', () => {
    const big = JSON.stringify({ type: 'renewed', id: 'r', unknown: ['x'.repeat(MAX_FRAME_BYTES)] });
    const result = decodeFrame(agentMessageSchema, Buffer.from(big));
    expect(result.ok).toBe(false);
    if (!result.ok) {
      expect(result.error.code).toBe('SIMIAN_MESSAGE_TOO_LARGE');
      expect(result.error.message).toBe(
        `message of ${Buffer.byteLength(big)} bytes exceeds the limit of ${MAX_FRAME_BYTES} bytes`,
      );
    }
  });
});
