/**
 * Ed25519 signing keys, one active per purpose (`jwt` signs access tokens, `audit` signs
 * checkpoints), shared by every auth instance through the database (private part sealed).
 * The first instance to start creates them; the unique partial index settles races.
 */
import { createPrivateKey, createPublicKey, generateKeyPairSync, type KeyObject } from "node:crypto";
import { newId } from "@edgeplane/proto";
import type pg from "pg";
import { seal, unseal } from "./seal.ts";

export interface SigningKey {
  id: string;
  purpose: "jwt" | "audit";
  privateKey: KeyObject;
  publicKey: KeyObject;
  /** Public JWK with `kid`, `alg`, `use`. */
  jwk: Record<string, string>;
}

interface Row {
  id: string;
  public_jwk: Record<string, string>;
  private_sealed: Buffer;
}

export async function activeSigningKey(
  db: pg.Pool,
  pepper: Buffer,
  purpose: "jwt" | "audit",
): Promise<SigningKey> {
  const select = () =>
    db.query<Row>(
      "SELECT id, public_jwk, private_sealed FROM signing_keys WHERE purpose = $1 AND retired_at IS NULL",
      [purpose],
    );
  let row = (await select()).rows[0];
  if (!row) {
    const { privateKey, publicKey } = generateKeyPairSync("ed25519");
    const id = newId("sgk");
    const jwk = {
      ...(publicKey.export({ format: "jwk" }) as Record<string, string>),
      kid: id,
      alg: "EdDSA",
      use: "sig",
    };
    const der = privateKey.export({ format: "der", type: "pkcs8" });
    await db.query(
      `INSERT INTO signing_keys (id, purpose, public_jwk, private_sealed) VALUES ($1, $2, $3, $4)
       ON CONFLICT (purpose) WHERE retired_at IS NULL DO NOTHING`,
      [id, purpose, JSON.stringify(jwk), seal(pepper, "signing-key", der)],
    );
    row = (await select()).rows[0] as Row;
  }
  const privateKey = createPrivateKey({
    key: unseal(pepper, "signing-key", row.private_sealed),
    format: "der",
    type: "pkcs8",
  });
  return { id: row.id, purpose, privateKey, publicKey: createPublicKey(privateKey), jwk: row.public_jwk };
}

/** Every public key of a purpose (active and retired), as a JWKS. */
export async function publicJwks(
  db: pg.Pool,
  purpose: "jwt" | "audit",
): Promise<{ keys: Record<string, string>[] }> {
  const r = await db.query<{ public_jwk: Record<string, string> }>(
    "SELECT public_jwk FROM signing_keys WHERE purpose = $1 ORDER BY created_at",
    [purpose],
  );
  return { keys: r.rows.map((x) => x.public_jwk) };
}
