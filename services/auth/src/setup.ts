/**
 * First-run setup. While no owner exists, a one-time token (160 bits) is kept as a
 * SHA-256 hash; its plaintext is logged once and written to EP_SETUP_TOKEN_FILE (0600).
 * `completeSetup` consumes it exactly once: under a row lock, so two concurrent calls
 * cannot both create an owner.
 */
import { createHash, randomBytes, timingSafeEqual } from "node:crypto";
import { readFile, rm, writeFile } from "node:fs/promises";
import { ALL_PERMS, base32, Errors, type Logger, newId } from "@edgeplane/proto";
import type pg from "pg";
import { generateKey, hashKey } from "./api-keys.ts";
import { hashPassword } from "./passwords.ts";

const sha256 = (s: string) => createHash("sha256").update(s).digest();

export async function setupRequired(db: pg.Pool): Promise<boolean> {
  const r = await db.query<{ completed_at: Date | null }>("SELECT completed_at FROM setup_state WHERE id");
  return !r.rows[0]?.completed_at;
}

/** A token issued less than this long ago is another instance's, not ours to replace. */
const TOKEN_FRESH_MINUTES = 10;

export interface SetupTokenOptions {
  /** Where to write the token (mode 0600), and where a restart finds it again. */
  file?: string | undefined;
  /** A token supplied by the deployment (EP_SETUP_TOKEN, e.g. from a Kubernetes Secret). */
  fixed?: string | undefined;
  log: Logger;
}

/**
 * Make sure a usable token exists while setup is open, and return it if this instance
 * can know it (undefined when setup is complete, or when another instance has just
 * issued the token and printed it).
 *  - A token supplied by the deployment always wins.
 *  - A token in the file that matches the stored hash is kept: restarts do not rotate it.
 *  - Otherwise a new token is issued — unless another instance issued one in the last
 *    few minutes (several auth replicas starting together), whose token stays valid.
 */
export async function ensureSetupToken(db: pg.Pool, opts: SetupTokenOptions): Promise<string | undefined> {
  const { file, fixed, log } = opts;
  if (!(await setupRequired(db))) {
    if (file) await rm(file, { force: true });
    return undefined;
  }
  if (fixed) {
    await db.query(
      "UPDATE setup_state SET token_hash = $1, token_issued_at = now() WHERE id AND completed_at IS NULL",
      [sha256(fixed)],
    );
    if (file) await writeFile(file, `${fixed}\n`, { mode: 0o600 });
    log.warn(
      { setup_token_file: file ?? null },
      "first-run setup is open; the setup token is the one configured in EP_SETUP_TOKEN",
    );
    return fixed;
  }
  if (file) {
    const existing = (await readFile(file, "utf8").catch(() => "")).trim();
    if (existing) {
      const r = await db.query(
        "SELECT 1 FROM setup_state WHERE id AND completed_at IS NULL AND token_hash = $1",
        [sha256(existing)],
      );
      if (r.rowCount) return existing;
    }
  }
  const token = base32(randomBytes(20));
  const r = await db.query(
    `UPDATE setup_state SET token_hash = $1, token_issued_at = now()
      WHERE id AND completed_at IS NULL
        AND (token_hash IS NULL OR token_issued_at IS NULL
             OR token_issued_at < now() - make_interval(mins => $2))`,
    [sha256(token), TOKEN_FRESH_MINUTES],
  );
  if (!r.rowCount) {
    if (await setupRequired(db)) {
      log.warn(
        `first-run setup is open; another auth instance issued the setup token in the last ${TOKEN_FRESH_MINUTES} minutes: use the one it printed`,
      );
    }
    return undefined;
  }
  if (file) await writeFile(file, `${token}\n`, { mode: 0o600 });
  log.warn({ setup_token_file: file ?? null }, `first-run setup is open; one-time setup token: ${token}`);
  return token;
}

export interface SetupResult {
  user: { id: string; username: string; role: string; created_at: string };
  api_key: {
    id: string;
    key: string;
    prefix: string;
    name: string;
    scopes: string[];
    expires_at: string;
    created_at: string;
  };
}

export async function completeSetup(
  db: pg.Pool,
  pepper: Buffer,
  input: { token: string; username: string; password: string },
): Promise<SetupResult> {
  // Hash before taking the lock: argon2 is deliberately slow.
  const passwordHash = await hashPassword(input.password);
  const client = await db.connect();
  try {
    await client.query("BEGIN");
    const st = await client.query<{ token_hash: Buffer | null; completed_at: Date | null }>(
      "SELECT token_hash, completed_at FROM setup_state WHERE id FOR UPDATE",
    );
    const row = st.rows[0];
    if (!row || row.completed_at) throw Errors.SetupCompleted.create();
    const given = sha256(input.token);
    if (
      !row.token_hash ||
      row.token_hash.length !== given.length ||
      !timingSafeEqual(row.token_hash, given)
    ) {
      throw Errors.InvalidSetupToken.create();
    }
    const userId = newId("usr");
    const u = await client.query<{ created_at: Date }>(
      "INSERT INTO users (id, username, password_hash, role) VALUES ($1, $2, $3, 'owner') RETURNING created_at",
      [userId, input.username, passwordHash],
    );
    const key = generateKey();
    const scopes = [...ALL_PERMS];
    const k = await client.query<{ created_at: Date; expires_at: Date }>(
      `INSERT INTO api_keys (id, user_id, name, description, prefix, secret_hash, scopes, expires_at)
       VALUES ($1, $2, 'setup', 'Full-scope key created by first-run setup', $3, $4, $5, now() + interval '365 days')
       RETURNING created_at, expires_at`,
      [key.id, userId, key.prefix, hashKey(pepper, key.key), scopes],
    );
    await client.query("UPDATE setup_state SET completed_at = now(), token_hash = NULL WHERE id");
    await client.query("COMMIT");
    return {
      user: {
        id: userId,
        username: input.username,
        role: "owner",
        created_at: (u.rows[0] as { created_at: Date }).created_at.toISOString(),
      },
      api_key: {
        id: key.id,
        key: key.key,
        prefix: key.prefix,
        name: "setup",
        scopes,
        expires_at: (k.rows[0] as { expires_at: Date }).expires_at.toISOString(),
        created_at: (k.rows[0] as { created_at: Date }).created_at.toISOString(),
      },
    };
  } catch (err) {
    await client.query("ROLLBACK").catch(() => undefined);
    throw err;
  } finally {
    client.release();
  }
}
