// Last line of defence against orphans when the launcher dies without an orderly
// shutdown (uncaught exception, unhandled rejection, process.exit from a bug).
//
// process.on("exit") must be synchronous: we can signal the children but not wait for
// them. So the stop signals go out at once, and a tiny detached reaper process outlives
// us, waits up to `graceMs` for those children to exit, then SIGKILLs their process
// groups (which also takes anything they started). SIGKILL of the launcher itself cannot
// be handled at all: runfiles.ts covers that case on the next start.
import { spawn } from "node:child_process";

const REAPER = `
const [pids, graceMs] = JSON.parse(process.argv[1]);
const alive = (p) => { try { process.kill(p, 0); return true; } catch { return false; } };
const killGroups = () => { for (const p of pids) { try { process.kill(-p, "SIGKILL"); } catch {} } };
const deadline = Date.now() + graceMs;
const tick = () => {
  if (pids.some(alive) && Date.now() < deadline) return setTimeout(tick, 100);
  killGroups();
};
tick();
`;

/** Synchronous: safe to call from process.on("exit"). */
export function spawnReaper(pids: readonly number[], graceMs = 10_000): void {
  if (pids.length === 0) return;
  try {
    spawn(process.execPath, ["-e", REAPER, JSON.stringify([pids, graceMs])], {
      detached: true,
      stdio: "ignore",
    }).unref();
  } catch {
    // Nothing more we can do while exiting.
  }
}
