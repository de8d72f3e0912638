/**
 * Temporary directories that remove themselves: `await using dir = await tmpDir("ep-x-")`.
 */
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { killStrays } from "./strays.ts";

/**
 * A directory under the OS temp dir, removed (recursively) on dispose — after ending the
 * processes still running from it (`killStrays`: detached daemons of a killed service).
 */
export interface TmpDir {
  /** Absolute path of the directory. */
  readonly path: string;
  /** Ends the directory's stray processes, then removes it and everything in it; safe to call twice. */
  [Symbol.asyncDispose](): Promise<void>;
}

/** Creates a fresh directory named `<prefix><random>` under the OS temp dir. */
export async function tmpDir(prefix = "ep-"): Promise<TmpDir> {
  const path = await mkdtemp(join(tmpdir(), prefix));
  return {
    path,
    [Symbol.asyncDispose]: async () => {
      await killStrays(path);
      await rm(path, { recursive: true, force: true });
    },
  };
}
