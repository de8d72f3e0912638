#!/usr/bin/env node
/**
 * Schema migrations for every service that owns tables: each `services/<name>/migrations/`
 * holds numbered `.sql` files (`001_identity.sql`), applied once each, in order, in their
 * own transaction, recorded as `<name>/<file>`. Services are migrated in name order; a
 * service's files never depend on another's. An advisory lock makes concurrent runs safe.
 * As a script: `node proto/src/runtime/migrate.ts` (reads DATABASE_URL).
 */
import { readdir, readFile } from "node:fs/promises";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import pg from "pg";

const SERVICES_DIR = fileURLToPath(new URL("../../../services/", import.meta.url));
const LOCK_ID = 0x65706c61; // "epla"
const FILE_RE = /^\d{3}_[a-z0-9_]+\.sql$/;

/** Every migration file of every service, in application order. */
export async function migrationFiles(
  servicesDir = SERVICES_DIR,
): Promise<Array<{ name: string; path: string }>> {
  const out: Array<{ name: string; path: string }> = [];
  for (const svc of (await readdir(servicesDir)).sort()) {
    const dir = join(servicesDir, svc, "migrations");
    const files = await readdir(dir).catch(() => [] as string[]);
    for (const f of files.filter((f) => FILE_RE.test(f)).sort())
      out.push({ name: `${svc}/${f}`, path: join(dir, f) });
  }
  return out;
}

export async function migrate(databaseUrl: string, servicesDir = SERVICES_DIR): Promise<string[]> {
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
    for (const m of await migrationFiles(servicesDir)) {
      if (done.has(m.name)) continue;
      const sql = await readFile(m.path, "utf8");
      await client.query("BEGIN");
      try {
        await client.query(sql);
        await client.query("INSERT INTO schema_migrations (name) VALUES ($1)", [m.name]);
        await client.query("COMMIT");
        applied.push(m.name);
      } catch (err) {
        await client.query("ROLLBACK");
        throw new Error(`migration ${m.name} failed: ${(err as Error).message}`);
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
