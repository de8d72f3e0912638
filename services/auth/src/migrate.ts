#!/usr/bin/env node
/**
 * Schema migrations: the numbered `.sql` files in `../migrations`, each applied once in
 * its own transaction, in order. An advisory lock makes concurrent runs (two auth
 * instances starting together) safe. Run as a script: `node services/auth/src/migrate.ts`.
 */
import { readdir, readFile } from "node:fs/promises";
import { fileURLToPath } from "node:url";
import pg from "pg";

const DIR = fileURLToPath(new URL("../migrations/", import.meta.url));
const LOCK_ID = 0x65706c61; // "epla"

export async function migrate(databaseUrl: string): Promise<string[]> {
  const client = new pg.Client({ connectionString: databaseUrl });
  await client.connect();
  const applied: string[] = [];
  try {
    await client.query("SELECT pg_advisory_lock($1)", [LOCK_ID]);
    await client.query(
      "CREATE TABLE IF NOT EXISTS schema_migrations (name text PRIMARY KEY, applied_at timestamptz NOT NULL DEFAULT now())",
    );
    const done = new Set(
      (await client.query<{ name: string }>("SELECT name FROM schema_migrations")).rows.map((r) => r.name),
    );
    const files = (await readdir(DIR)).filter((f) => /^\d{3}_[a-z0-9_]+\.sql$/.test(f)).sort();
    for (const f of files) {
      if (done.has(f)) continue;
      const sql = await readFile(`${DIR}${f}`, "utf8");
      await client.query("BEGIN");
      try {
        await client.query(sql);
        await client.query("INSERT INTO schema_migrations (name) VALUES ($1)", [f]);
        await client.query("COMMIT");
        applied.push(f);
      } catch (err) {
        await client.query("ROLLBACK");
        throw new Error(`migration ${f} failed: ${(err as Error).message}`);
      }
    }
  } finally {
    await client.query("SELECT pg_advisory_unlock($1)", [LOCK_ID]).catch(() => undefined);
    await client.end();
  }
  return applied;
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const url = process.env.DATABASE_URL;
  if (!url) {
    process.stderr.write("migrate: DATABASE_URL is not set\n");
    process.exit(2);
  }
  migrate(url).then(
    (applied) => {
      process.stdout.write(applied.length ? `applied ${applied.join(", ")}\n` : "schema up to date\n");
    },
    (err: unknown) => {
      process.stderr.write(`migrate: ${(err as Error).message}\n`);
      process.exit(1);
    },
  );
}
