import pg from "pg";
import { describe, expect, it } from "vitest";
import { adminDatabaseUrl, createTestDatabase } from "./postgres.ts";

async function query<T extends pg.QueryResultRow>(url: string, sql: string, params: unknown[] = []) {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    return (await client.query<T>(sql, params)).rows;
  } finally {
    await client.end();
  }
}

async function databaseExists(name: string): Promise<boolean> {
  const rows = await query(await adminDatabaseUrl(), "SELECT 1 FROM pg_database WHERE datname = $1", [name]);
  return rows.length === 1;
}

describe("harness/postgres", () => {
  it("harness/postgres - two databases are isolated and dropped on dispose", async () => {
    let names: string[] = [];
    {
      await using a = await createTestDatabase();
      await using b = await createTestDatabase();
      names = [a.name, b.name];
      expect(a.name).toMatch(/^ep_test_[0-9a-f]+$/);
      expect(a.name).not.toBe(b.name);
      await query(a.url, "CREATE TABLE only_in_a (id int)");
      const inA = await query(a.url, "SELECT to_regclass('only_in_a') AS t");
      const inB = await query(b.url, "SELECT to_regclass('only_in_a') AS t");
      expect(inA[0]?.t).toBe("only_in_a");
      expect(inB[0]?.t).toBeNull();
      expect(await databaseExists(a.name)).toBe(true);
    }
    for (const name of names) expect(await databaseExists(name)).toBe(false);
  });

  it("harness/postgres - dispose drops a database that still has open connections", async () => {
    const db = await createTestDatabase();
    const client = new pg.Client({ connectionString: db.url });
    client.on("error", () => {}); // terminated by the drop
    await client.connect();
    await db[Symbol.asyncDispose]();
    expect(await databaseExists(db.name)).toBe(false);
    await client.end().catch(() => {});
  });
});
