#!/usr/bin/env node
/**
 * Offline audit verification: `npm run audit:verify -- --database-url postgres://… [--public-key key.jwk|key.pem] [--json]`.
 * Re-walks the hash chain and the signed checkpoints of a database (a live one or a
 * restored dump), with no NATS and no auth service. By default checkpoint signatures are
 * checked with the public keys stored in the database; `--public-key` pins an audit key
 * obtained out of band (recommended: a thief with write access to the database could
 * replace the stored keys, but not forge a signature under a pinned one).
 * Exit status: 0 = the chain verifies, 1 = it is broken (the first bad row is printed),
 * 2 = usage or connection error.
 */
import { createPublicKey, type KeyObject } from "node:crypto";
import { readFile } from "node:fs/promises";
import { parseArgs } from "node:util";
import pg from "pg";
import { loadAuditKeys, verifyChain } from "./audit-store.ts";

export async function main(argv: string[]): Promise<number> {
  const { values } = parseArgs({
    args: argv,
    options: {
      "database-url": { type: "string" },
      "public-key": { type: "string" },
      json: { type: "boolean", default: false },
      help: { type: "boolean", short: "h", default: false },
    },
  });
  if (values.help || !values["database-url"]) {
    process.stderr.write("usage: audit:verify --database-url <dsn> [--public-key <jwk|pem file>] [--json]\n");
    return values.help ? 0 : 2;
  }
  let pinned: KeyObject | undefined;
  if (values["public-key"]) {
    const text = await readFile(values["public-key"], "utf8");
    pinned = text.trim().startsWith("{")
      ? createPublicKey({ key: JSON.parse(text) as never, format: "jwk" })
      : createPublicKey(text);
  }
  const client = new pg.Client({ connectionString: values["database-url"] });
  await client.connect();
  try {
    const t0 = performance.now();
    const stored = pinned ? undefined : await loadAuditKeys(client);
    const result = await verifyChain(client, stored ?? (() => pinned));
    const secs = (performance.now() - t0) / 1000;
    if (values.json) process.stdout.write(`${JSON.stringify(result)}\n`);
    else if (result.ok)
      process.stdout.write(
        `ok: ${result.checked} rows, ${result.checkpoints} signed checkpoints verified in ${secs.toFixed(2)} s\n`,
      );
    else
      process.stdout.write(
        `BROKEN at row ${result.first_bad_row}: ${result.reason} (${result.checked} rows ok before it)\n`,
      );
    return result.ok ? 0 : 1;
  } finally {
    await client.end();
  }
}

if (import.meta.url === `file://${process.argv[1]}`) {
  main(process.argv.slice(2)).then(
    (code) => process.exit(code),
    (err: unknown) => {
      process.stderr.write(`audit:verify: ${err instanceof Error ? err.message : String(err)}\n`);
      process.exit(2);
    },
  );
}
