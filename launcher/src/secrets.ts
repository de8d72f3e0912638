// Secrets that must survive restarts, generated once into $EP_DATA_DIR/secrets.json (0600).
//
// Regenerating any of them silently would be destructive: a new EP_KEY_PEPPER invalidates
// every API key, a new EP_SEALING_KEY makes every sealed vendor credential unreadable, a
// new PostgreSQL password locks the launcher out of its own cluster. So an existing file
// that does not parse is an error to fix by hand, never a reason to start over; missing
// keys (a file from an older launcher) are added and existing ones kept.
import { randomBytes } from "node:crypto";
import {
  chmodSync,
  closeSync,
  fsyncSync,
  openSync,
  readFileSync,
  renameSync,
  statSync,
  writeSync,
} from "node:fs";
import { join } from "node:path";
import { z } from "zod";

const Base64Url32 = z.string().regex(/^[A-Za-z0-9_-]{43}$/, "must be 32 bytes, base64url without padding");
const Base64_32 = z.string().regex(/^[A-Za-z0-9+/]{43}=$/, "must be 32 bytes, base64");

const File = z.object({
  EP_KEY_PEPPER: Base64Url32.optional(),
  EP_SEALING_KEY: Base64_32.optional(),
  /** Password of the `postgres` superuser of the embedded cluster. */
  EP_PG_PASSWORD: Base64Url32.optional(),
});

export interface Secrets {
  /** HMAC pepper of API key hashes (32 random bytes, base64url). */
  readonly EP_KEY_PEPPER: string;
  /** Key sealing stored vendor credentials (32 random bytes, base64). */
  readonly EP_SEALING_KEY: string;
  /** Superuser password of the embedded PostgreSQL (only used when it runs). */
  readonly EP_PG_PASSWORD: string;
}

export const SECRETS_FILE = "secrets.json";

/** Reads $dataDir/secrets.json, generating whatever is missing. `dataDir` must exist. */
export function loadSecrets(dataDir: string): Secrets {
  const path = join(dataDir, SECRETS_FILE);
  let raw: string | undefined;
  try {
    raw = readFileSync(path, "utf8");
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== "ENOENT") throw err;
  }
  let stored: z.infer<typeof File> = {};
  if (raw !== undefined) {
    let json: unknown;
    try {
      json = JSON.parse(raw);
    } catch {
      throw new Error(
        `${path} is not valid JSON; fix or restore it (deleting it invalidates API keys and sealed secrets)`,
      );
    }
    const parsed = File.safeParse(json);
    if (!parsed.success) {
      const why = parsed.error.issues.map((i) => `${i.path.join(".") || "file"}: ${i.message}`).join("; ");
      throw new Error(`${path} is invalid (${why}); fix or restore it`);
    }
    stored = parsed.data;
  }
  const secrets: Secrets = Object.freeze({
    EP_KEY_PEPPER: stored.EP_KEY_PEPPER ?? randomBytes(32).toString("base64url"),
    EP_SEALING_KEY: stored.EP_SEALING_KEY ?? randomBytes(32).toString("base64"),
    EP_PG_PASSWORD: stored.EP_PG_PASSWORD ?? randomBytes(32).toString("base64url"),
  });
  const complete =
    stored.EP_KEY_PEPPER !== undefined &&
    stored.EP_SEALING_KEY !== undefined &&
    stored.EP_PG_PASSWORD !== undefined;
  if (!complete) writeAtomically(path, `${JSON.stringify(secrets, null, 2)}\n`);
  else if ((statSync(path).mode & 0o077) !== 0) chmodSync(path, 0o600); // someone loosened it: tighten again
  return secrets;
}

/** Write to a 0600 temp file, fsync, rename: a crash never leaves a half-written secrets file. */
function writeAtomically(path: string, content: string): void {
  const tmp = `${path}.${process.pid}.tmp`;
  const fd = openSync(tmp, "w", 0o600);
  try {
    writeSync(fd, content);
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
  chmodSync(tmp, 0o600); // openSync's mode is filtered by the umask; be explicit
  renameSync(tmp, path);
}
