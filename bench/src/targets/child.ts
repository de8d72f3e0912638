/**
 * The child side of lib/procs.ts: report readiness over IPC, and stop cleanly (then exit
 * 0, which also writes a `--cpu-prof` profile) on SIGTERM, SIGINT, or when the parent's
 * IPC channel closes (the runner died).
 */

export function ready(info: Record<string, unknown> = {}): void {
  process.send?.({ type: "ready", pid: process.pid, ...info });
}

export function onStop(fn: () => Promise<void> | void): void {
  let stopping = false;
  const stop = () => {
    if (stopping) return;
    stopping = true;
    Promise.resolve()
      .then(fn)
      .then(
        () => process.exit(0),
        (err: unknown) => {
          process.stderr.write(`stop failed: ${err instanceof Error ? err.message : String(err)}\n`);
          process.exit(1);
        },
      );
  };
  process.once("SIGTERM", stop);
  process.once("SIGINT", stop);
  process.once("disconnect", stop);
}
