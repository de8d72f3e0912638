/**
 * audit chain — tampering with the stored table is reported at the right row: any byte
 * of any column of any row, a deleted row (first, middle, last), two rows swapped, a
 * rewritten tail (caught by a signed checkpoint). Property test over a real PostgreSQL
 * table; each tampering runs in a transaction that is rolled back.
 */
import { generateKeyPairSync } from "node:crypto";
import { authDatabase, type TestDatabase } from "@edgeplane/test";
import fc from "fast-check";
import pg from "pg";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  type ChainRow,
  canonicalJson,
  canonicalRow,
  rowHash,
  rowHashHex,
  signCheckpoint,
  ZERO_HASH,
} from "./audit-chain.ts";
import { verifyChain } from "./audit-store.ts";

const N = 300;
const CP_EVERY = 50;
let db: TestDatabase;
let client: pg.Client;
const { privateKey, publicKey } = generateKeyPairSync("ed25519");
const keys = new Map([["sgk_test", publicKey]]);
let head: { seq: number; row_hash: Buffer };

function makeRows(n: number): ChainRow[] {
  const rows: ChainRow[] = [];
  let prev: Buffer = ZERO_HASH;
  for (let i = 1; i <= n; i++) {
    const r = {
      seq: i,
      event_id: `evt_${String(i).padStart(16, "0")}`,
      time: new Date(1_700_000_000_000 + i * 1000).toISOString(),
      actor_type: i % 3 === 0 ? "api_key" : "user",
      actor_id: `usr_${i % 7}`,
      actor_name: i % 5 === 0 ? null : `user${i % 7}`,
      action: ["user.create", "api_key.revoke", "haproxy.state_put"][i % 3] as string,
      category: i % 2 ? "auth" : "haproxy",
      target_type: "thing",
      target_id: `t${i}`,
      result: "success",
      request_id: `req_${i}`,
      source_ip: "127.0.0.1",
      summary: canonicalJson({ n: i, name: `x${i}`, nested: { ok: true } }),
    };
    const h = rowHash(prev, r);
    rows.push({ ...r, prev_hash: prev, row_hash: h });
    prev = h;
  }
  return rows;
}

beforeAll(async () => {
  db = await authDatabase();
  client = new pg.Client({ connectionString: db.url });
  await client.connect();
  const rows = makeRows(N);
  for (const r of rows) {
    await client.query(
      `INSERT INTO audit_log (seq, event_id, time, actor_type, actor_id, actor_name, action, category, target_type, target_id,
         result, request_id, source_ip, summary, prev_hash, row_hash) VALUES ($1,$2,$3,$4,$5,$6,$7,$8,$9,$10,$11,$12,$13,$14,$15,$16)`,
      [
        r.seq,
        r.event_id,
        r.time,
        r.actor_type,
        r.actor_id,
        r.actor_name,
        r.action,
        r.category,
        r.target_type,
        r.target_id,
        r.result,
        r.request_id,
        r.source_ip,
        r.summary,
        r.prev_hash,
        r.row_hash,
      ],
    );
    if (r.seq % CP_EVERY === 0) {
      const signed_at = new Date(1_800_000_000_000 + r.seq).toISOString();
      const cp = { seq: r.seq, row_hash: r.row_hash, signed_at, key_id: "sgk_test" };
      await client.query(
        "INSERT INTO audit_checkpoints (seq, row_hash, signed_at, key_id, signature) VALUES ($1,$2,$3,$4,$5)",
        [r.seq, r.row_hash, signed_at, "sgk_test", signCheckpoint(privateKey, cp)],
      );
    }
  }
  const last = rows[rows.length - 1] as ChainRow;
  head = { seq: last.seq, row_hash: last.row_hash };
});

afterAll(async () => {
  await client?.end();
  await db?.[Symbol.asyncDispose]();
});

/** Run `tamper` in a transaction, verify inside it, roll back. */
async function verifyTampered(tamper: (c: pg.Client) => Promise<unknown>) {
  await client.query("BEGIN");
  try {
    await tamper(client);
    return await verifyChain(client, keys, head);
  } finally {
    await client.query("ROLLBACK");
  }
}

const TEXT_COLUMNS = [
  "event_id",
  "actor_type",
  "actor_id",
  "action",
  "category",
  "target_type",
  "target_id",
  "result",
  "request_id",
  "source_ip",
  "summary",
] as const;

describe("audit chain - verification", () => {
  it("an untouched chain verifies, with every checkpoint", async () => {
    const r = await verifyChain(client, keys, head);
    expect(r).toEqual({ ok: true, checked: N, checkpoints: N / CP_EVERY, head_seq: N });
  });

  it("any changed byte of any row is reported at that row", async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.integer({ min: 1, max: N }),
        fc.constantFrom(...TEXT_COLUMNS, "time", "prev_hash", "row_hash", "actor_name"),
        fc.nat(),
        fc.integer({ min: 1, max: 255 }),
        async (seq, column, pos, delta) => {
          const r = await verifyTampered(async (c) => {
            if (column === "prev_hash" || column === "row_hash") {
              await c.query(
                `UPDATE audit_log SET ${column} = set_byte(${column}, $2, (get_byte(${column}, $2) + $3) % 256) WHERE seq = $1`,
                [seq, pos % 32, delta],
              );
            } else if (column === "time") {
              await c.query(
                "UPDATE audit_log SET time = time + make_interval(secs => $2::float8 / 1000) WHERE seq = $1",
                [seq, delta],
              );
            } else {
              // Replace one character with a different one (NULL becomes a value).
              await c.query(
                `UPDATE audit_log SET ${column} = CASE WHEN ${column} IS NULL THEN 'x' ELSE
                   overlay(${column} placing chr(((ascii(substr(${column}, $2, 1)) - 32 + $3) % 94) + 32 + CASE WHEN ((ascii(substr(${column}, $2, 1)) - 32 + $3) % 94) + 32 = ascii(substr(${column}, $2, 1)) THEN 1 ELSE 0 END) from $2 for 1) END
                 WHERE seq = $1`,
                [seq, 1 + (pos % 8), delta % 93 || 1],
              );
            }
          });
          expect(r.ok, `${column} of row ${seq}`).toBe(false);
          expect(r.first_bad_row, `${column} of row ${seq}: ${r.reason}`).toBe(seq);
        },
      ),
      { numRuns: 150 },
    );
  });

  it("a deleted row (first, middle or last) is reported at its position", async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.oneof(fc.constant(1), fc.constant(N), fc.integer({ min: 1, max: N })),
        async (seq) => {
          const r = await verifyTampered((c) => c.query("DELETE FROM audit_log WHERE seq = $1", [seq]));
          expect(r.ok).toBe(false);
          expect(r.first_bad_row, r.reason).toBe(seq);
        },
      ),
      { numRuns: 40 },
    );
  });

  it("two swapped rows are reported at the first of them", async () => {
    await fc.assert(
      fc.asyncProperty(fc.integer({ min: 1, max: N }), fc.integer({ min: 1, max: N }), async (a, b) => {
        fc.pre(a !== b);
        const [i, j] = a < b ? [a, b] : [b, a];
        const r = await verifyTampered(async (c) => {
          await c.query("UPDATE audit_log SET seq = -seq WHERE seq IN ($1, $2)", [i, j]);
          await c.query(
            "UPDATE audit_log SET seq = CASE WHEN seq = -$1::bigint THEN $2::bigint ELSE $1::bigint END WHERE seq IN (-$1::bigint, -$2::bigint)",
            [i, j],
          );
        });
        expect(r.ok).toBe(false);
        expect(r.first_bad_row, r.reason).toBe(i);
      }),
      { numRuns: 40 },
    );
  });

  it("a consistently rewritten tail is caught by the next signed checkpoint", async () => {
    // Rewrite row 120 and recompute every hash after it: the chain is self-consistent again.
    const rows = makeRows(N);
    const target = rows[119] as ChainRow;
    target.summary = canonicalJson({ forged: true });
    let prev = (rows[118] as ChainRow).row_hash;
    for (const r of rows.slice(119)) {
      r.prev_hash = prev;
      r.row_hash = rowHash(prev, r);
      prev = r.row_hash;
    }
    const r = await verifyTampered(async (c) => {
      for (const x of rows.slice(119))
        await c.query("UPDATE audit_log SET summary = $2, prev_hash = $3, row_hash = $4 WHERE seq = $1", [
          x.seq,
          x.summary,
          x.prev_hash,
          x.row_hash,
        ]);
    });
    expect(r.ok).toBe(false);
    expect(r.first_bad_row).toBe(101); // somewhere after the last good checkpoint (100), by 150
    expect(r.reason).toContain("checkpoint at row 150");
  });

  it("a forged checkpoint signature is reported", async () => {
    const r = await verifyTampered((c) =>
      c.query(
        "UPDATE audit_checkpoints SET signature = set_byte(signature, 3, (get_byte(signature, 3) + 1) % 256) WHERE seq = 200",
      ),
    );
    expect(r.ok).toBe(false);
    expect(r.first_bad_row).toBe(200);
  });

  it("a cut-off tail is reported via the published head", async () => {
    const r = await verifyTampered((c) => c.query("DELETE FROM audit_log WHERE seq > 290"));
    expect(r.ok).toBe(false);
    expect(r.first_bad_row).toBe(291);
  });
});

describe("audit chain - the verifier's fast hash", () => {
  it("rowHashHex hashes exactly what rowHash hashes, whatever the text", () => {
    fc.assert(
      fc.property(
        fc.uint8Array({ minLength: 32, maxLength: 32 }),
        fc.oneof(
          fc.string(),
          fc.string({ unit: "grapheme" }),
          fc.string({ unit: "binary", maxLength: 2000 }),
        ),
        (prev, text) => {
          const row = { ...makeRows(1)[0], summary: text, actor_name: text } as ChainRow;
          const want = rowHash(Buffer.from(prev), row).toString("hex");
          expect(rowHashHex(Buffer.from(prev).toString("hex"), canonicalRow(row))).toBe(want);
        },
      ),
      { numRuns: 300 },
    );
    // Larger than the reused buffer: it grows.
    const big = { ...makeRows(1)[0], summary: "€😀\u0001".repeat(40_000) } as ChainRow;
    expect(rowHashHex(ZERO_HASH.toString("hex"), canonicalRow(big))).toBe(
      rowHash(ZERO_HASH, big).toString("hex"),
    );
  });
});
