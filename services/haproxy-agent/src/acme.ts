/**
 * ACME certificates of a cluster (`acme-client`), HTTP-01 answered by the cluster's own
 * haproxies: the account key is one per cluster (KV `ep_haproxy_acme`, created once with
 * `create`, so every agent renders the same thumbprint), and every HTTP frontend with a
 * clear-text bind answers `/.well-known/acme-challenge/<token>` with
 * `<token>.<thumbprint>` (stateless: nothing to distribute per challenge, any node answers).
 *
 * An issued certificate is validated like a BYO upload and stored under its id in the
 * certificate store; the caller syncs it to the nodes (`set ssl cert` + `commit ssl cert`).
 * Definitions (id → domains, last result) live in the same KV: `<cluster>.cert.<id>`.
 */
import { createHash, createPrivateKey, createPublicKey, generateKeyPairSync } from "node:crypto";
import { kvToken, type Logger } from "@edgeplane/proto";
import { type KV, Kvm } from "@nats-io/kv";
import type { NatsConnection } from "@nats-io/transport-node";
import acme from "acme-client";
import { type ByoParsed, validateByo } from "./pki.ts";

export const ACME_BUCKET = "ep_haproxy_acme";
const enc = new TextEncoder();
const dec = new TextDecoder();

export interface AcmeCertDef {
  id: string;
  domains: string[];
  created_at: string;
  last_attempt_at: string | null;
  last_error: string | null;
}

/** RFC 7638 thumbprint of the account key (base64url SHA-256 of the canonical JWK). */
export function thumbprint(keyPem: string): string {
  const jwk = createPublicKey(createPrivateKey(keyPem)).export({ format: "jwk" }) as Record<string, string>;
  const canon =
    jwk.kty === "EC"
      ? { crv: jwk.crv, kty: jwk.kty, x: jwk.x, y: jwk.y }
      : jwk.kty === "RSA"
        ? { e: jwk.e, kty: jwk.kty, n: jwk.n }
        : { crv: jwk.crv, kty: jwk.kty, x: jwk.x };
  return createHash("sha256").update(JSON.stringify(canon)).digest("base64url");
}

export class AcmeAccount {
  readonly kv: KV;
  readonly cluster: string;
  readonly keyPem: string;
  readonly thumbprint: string;
  readonly directoryUrl: string;
  readonly email: string | null;
  readonly log: Logger;
  constructor(o: {
    kv: KV;
    cluster: string;
    keyPem: string;
    directoryUrl: string;
    email: string | null;
    log: Logger;
  }) {
    this.kv = o.kv;
    this.cluster = o.cluster;
    this.keyPem = o.keyPem;
    this.thumbprint = thumbprint(o.keyPem);
    this.directoryUrl = o.directoryUrl;
    this.email = o.email;
    this.log = o.log;
  }

  /** The cluster's account key: created by whichever agent comes first, read by the others. */
  static async open(o: {
    nc: NatsConnection;
    cluster: string;
    replicas: number;
    directoryUrl: string;
    email: string | null;
    log: Logger;
  }): Promise<AcmeAccount> {
    const kv = await new Kvm(o.nc).create(ACME_BUCKET, {
      history: 1,
      replicas: o.replicas,
      description: "HAProxy ACME: account key and certificate definitions per cluster",
    } as never);
    const key = `${kvToken(o.cluster)}.account`;
    let e = await kv.get(key);
    if (e?.operation !== "PUT" || e.value.length === 0) {
      const pem = generateKeyPairSync("ec", { namedCurve: "P-256" })
        .privateKey.export({ type: "pkcs8", format: "pem" })
        .toString();
      await kv.create(key, enc.encode(JSON.stringify({ key_pem: pem }))).catch(() => undefined);
      e = await kv.get(key);
    }
    const keyPem = (JSON.parse(dec.decode(e?.value)) as { key_pem: string }).key_pem;
    return new AcmeAccount({
      kv,
      cluster: o.cluster,
      keyPem,
      directoryUrl: o.directoryUrl,
      email: o.email,
      log: o.log,
    });
  }

  private accountKey() {
    return `${kvToken(this.cluster)}.account`;
  }
  private cached: acme.Client | undefined;
  /**
   * One client per agent, created with the account URL when some agent registered the
   * account already: an ACME server answers a second registration of the same key with
   * the account, and acme-client's follow-up empty update is refused by strict servers.
   */
  private async client(): Promise<acme.Client> {
    if (this.cached) return this.cached;
    const e = await this.kv.get(this.accountKey());
    const url = e?.value.length
      ? (JSON.parse(dec.decode(e.value)) as { account_url?: string }).account_url
      : undefined;
    this.cached = new acme.Client({
      directoryUrl: this.directoryUrl,
      accountKey: this.keyPem,
      ...(url ? { accountUrl: url } : {}),
      // Poll order/authorization status from 0.5 s up (acme-client's default starts at 5 s).
      backoffMin: 500,
      backoffMax: 10_000,
      backoffAttempts: 12,
    });
    return this.cached;
  }
  private async rememberAccountUrl(client: acme.Client): Promise<void> {
    const url = client.getAccountUrl();
    const e = await this.kv.get(this.accountKey());
    if (!e?.value.length) return;
    const v = JSON.parse(dec.decode(e.value)) as { key_pem: string; account_url?: string };
    if (v.account_url === url) return;
    await this.kv.put(this.accountKey(), JSON.stringify({ ...v, account_url: url }));
  }

  private defKey(id: string) {
    return `${kvToken(this.cluster)}.cert.${id}`;
  }
  async getDef(id: string): Promise<AcmeCertDef | null> {
    const e = await this.kv.get(this.defKey(id));
    return e && e.operation === "PUT" && e.value.length > 0
      ? (JSON.parse(dec.decode(e.value)) as AcmeCertDef)
      : null;
  }
  async putDef(d: AcmeCertDef): Promise<void> {
    await this.kv.put(this.defKey(d.id), JSON.stringify(d));
  }
  async listDefs(): Promise<AcmeCertDef[]> {
    const out: AcmeCertDef[] = [];
    const names: string[] = [];
    for await (const k of await this.kv.keys(`${kvToken(this.cluster)}.cert.*`)) names.push(k);
    for (const k of names.sort()) {
      const e = await this.kv.get(k);
      if (e && e.operation === "PUT" && e.value.length > 0)
        out.push(JSON.parse(dec.decode(e.value)) as AcmeCertDef);
    }
    return out;
  }

  /**
   * Order a certificate for `domains`: account (idempotent), order, HTTP-01 (answered by
   * haproxy from the thumbprint, so nothing to publish), finalize with a fresh P-256 key.
   */
  async issue(domains: string[]): Promise<ByoParsed> {
    const client = await this.client();
    const [key, csr] = await acme.crypto.createCsr(
      { commonName: domains[0] as string, altNames: domains },
      await acme.crypto.createPrivateEcdsaKey("P-256"),
    );
    const fullchain = await client.auto({
      csr,
      ...(this.email ? { email: this.email } : {}),
      termsOfServiceAgreed: true,
      challengePriority: ["http-01"],
      // haproxy answers from the thumbprint on every node: nothing to create or remove, and
      // acme-client's own pre-check (port 80 of the name) does not apply behind a port offset.
      skipChallengeVerification: true,
      challengeCreateFn: async () => undefined,
      challengeRemoveFn: async () => undefined,
    });
    await this.rememberAccountUrl(client);
    const chain = acme.crypto.splitPemChain(fullchain).join("\n");
    const v = validateByo(chain, key.toString());
    if (!v.parsed)
      throw new Error(
        `the CA returned an unusable certificate: ${v.issues.map((i) => i.message).join("; ")}`,
      );
    return v.parsed;
  }
}
