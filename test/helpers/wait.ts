import { isSimianError } from '@simian/protocol';

/** Polls `check` every `intervalMs` until it holds or `timeoutMs` passes; returns the last answer. */
export async function eventually(
  check: () => boolean | Promise<boolean>,
  timeoutMs: number,
  intervalMs = 100,
): Promise<boolean> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (await check()) return true;
    await new Promise((resolve) => setTimeout(resolve, intervalMs));
  }
  return check();
}

/** Like {@link eventually}, but throws when the condition never held. */
export async function waitFor(
  check: () => boolean | Promise<boolean>,
  timeoutMs = 5_000,
  intervalMs = 20,
): Promise<void> {
  if (!(await eventually(check, timeoutMs, intervalMs)))
    throw new Error(`condition not met within ${timeoutMs}ms`);
}

/** The code and message of the SimianError `promise` rejects with; anything else fails the test. */
export async function errorOf(promise: Promise<unknown>): Promise<{ code: string; message: string }> {
  try {
    await promise;
  } catch (error) {
    if (isSimianError(error)) return { code: error.code, message: error.message };
    throw error;
  }
  throw new Error('expected a SimianError');
}
