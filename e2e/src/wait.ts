/**
 * Wait until `cond` holds: a condition on another process's state, checked every `stepMs`.
 * `timeoutMs` only bounds the wait; nothing here waits a fixed time for something to happen.
 */
export async function waitFor(what: string, cond: () => boolean | Promise<boolean>, timeoutMs = 20000, stepMs = 50): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await cond())) {
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, stepMs));
  }
}
