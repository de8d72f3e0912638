/**
 * Files the agent must find whole after a crash or power loss: written to a temporary name,
 * fsynced, then renamed over the target (a reader sees the old file or the new one, never
 * half of one), and the fsync helpers the config swap uses.
 */
import { open, rename, writeFile } from "node:fs/promises";

let seq = 0;
/** A temp file beside `path`, unique per call: two writes of one path may overlap. */
const tmpName = (path: string) => `${path}.tmp-${process.pid}-${(seq++).toString(36)}`;

/** Write `data` to `path` atomically and durably; `mode` applies to the new file. */
export async function writeAtomic(path: string, data: string, mode = 0o644): Promise<void> {
  const tmp = tmpName(path);
  const fh = await open(tmp, "w", mode);
  try {
    await fh.writeFile(data);
    await fh.sync();
  } finally {
    await fh.close();
  }
  await rename(tmp, path);
}

/**
 * Write `data` to `path` atomically but not durably: for hand-offs a crash makes moot
 * (the server-state file is read once, by the worker the next reload starts).
 */
export async function writeReplace(path: string, data: string, mode = 0o644): Promise<void> {
  const tmp = tmpName(path);
  await writeFile(tmp, data, { mode });
  await rename(tmp, path);
}

export async function syncFile(path: string): Promise<void> {
  const fh = await open(path, "r");
  try {
    await fh.sync();
  } finally {
    await fh.close();
  }
}

/** Make a rename in `dir` durable; a directory that cannot be opened is left as it is. */
export async function syncDir(dir: string): Promise<void> {
  const fh = await open(dir, "r").catch(() => null);
  if (!fh) return;
  await fh.sync().catch(() => undefined);
  await fh.close();
}
