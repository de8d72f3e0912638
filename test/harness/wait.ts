/**
 * Polling until a condition holds, with a deadline and the last failure as the cause.
 */
import { setTimeout as sleep } from "node:timers/promises";

/** How long and how often {@link waitFor} polls. */
export interface WaitForOptions {
  /** Give up after this many milliseconds (default 10 000). */
  timeout?: number;
  /** Pause between attempts, in milliseconds (default 50). */
  interval?: number;
  /** What is being waited for, used in the timeout error. */
  message?: string;
}

/**
 * Calls `fn` until it returns a value other than `false`, `null` or `undefined` without
 * throwing, and returns that value. Throws after `timeout` ms, with the last error (if
 * any) as `cause`.
 */
export async function waitFor<T>(
  fn: () => T | Promise<T>,
  { timeout = 10_000, interval = 50, message = "condition" }: WaitForOptions = {},
): Promise<Exclude<T, false | null | undefined>> {
  const deadline = Date.now() + timeout;
  let lastError: unknown;
  for (;;) {
    try {
      const value = await fn();
      if (value !== false && value !== null && value !== undefined) {
        return value as Exclude<T, false | null | undefined>;
      }
      lastError = undefined;
    } catch (err) {
      lastError = err;
    }
    if (Date.now() >= deadline) {
      throw new Error(`waitFor: ${message} not met within ${timeout} ms`, { cause: lastError });
    }
    await sleep(interval);
  }
}
