/**
 * Test PKI with the `openssl` CLI (Node cannot sign X.509 certificates): a root CA, an
 * intermediate, server leaves, a client CA with client certificates, and CRLs — all in a
 * temp directory, EC P-256 keys (fast).
 */
import { execFile } from "node:child_process";
import { readFile, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { promisify } from "node:util";

const exec = promisify(execFile);

export interface Pair {
  cert: string;
  key: string;
  certPath: string;
  keyPath: string;
}

export class Pki {
  readonly dir: string;
  private n = 0;
  constructor(dir: string) {
    this.dir = dir;
  }
  private p(name: string) {
    return join(this.dir, name);
  }
  private async ossl(args: string[]): Promise<void> {
    await exec("openssl", args, { cwd: this.dir });
  }
  private async pair(name: string): Promise<Pair> {
    const certPath = this.p(`${name}.pem`);
    const keyPath = this.p(`${name}.key`);
    return {
      cert: await readFile(certPath, "utf8"),
      key: await readFile(keyPath, "utf8"),
      certPath,
      keyPath,
    };
  }
  async key(name: string): Promise<string> {
    await this.ossl([
      "genpkey",
      "-algorithm",
      "EC",
      "-pkeyopt",
      "ec_paramgen_curve:P-256",
      "-out",
      this.p(`${name}.key`),
    ]);
    return readFile(this.p(`${name}.key`), "utf8");
  }
  /** A self-signed CA (with a database for revocations and CRLs). */
  async ca(name: string, cn = name): Promise<Pair> {
    await this.key(name);
    await this.ossl([
      "req",
      "-x509",
      "-new",
      "-key",
      this.p(`${name}.key`),
      "-out",
      this.p(`${name}.pem`),
      "-subj",
      `/CN=${cn}`,
      "-days",
      "30",
      "-addext",
      "basicConstraints=critical,CA:TRUE",
      "-addext",
      "keyUsage=critical,keyCertSign,cRLSign",
    ]);
    await writeFile(this.p(`${name}.index`), "");
    await writeFile(this.p(`${name}.crlnumber`), "1000\n");
    await writeFile(
      this.p(`${name}.cnf`),
      [
        "[ ca ]",
        "default_ca = d",
        "[ d ]",
        `database = ${this.p(`${name}.index`)}`,
        `crlnumber = ${this.p(`${name}.crlnumber`)}`,
        `certificate = ${this.p(`${name}.pem`)}`,
        `private_key = ${this.p(`${name}.key`)}`,
        "default_md = sha256",
        "default_crl_days = 7",
        "",
      ].join("\n"),
    );
    return this.pair(name);
  }
  /** A certificate signed by `issuer`: `server` (SANs), `client`, or `ca` (an intermediate). */
  async issue(
    name: string,
    issuer: string,
    o: { kind: "server" | "client" | "ca"; sans?: string[]; days?: number; cn?: string },
  ): Promise<Pair> {
    await this.key(name);
    await this.ossl([
      "req",
      "-new",
      "-key",
      this.p(`${name}.key`),
      "-out",
      this.p(`${name}.csr`),
      "-subj",
      `/CN=${o.cn ?? name}`,
    ]);
    const ext =
      o.kind === "ca"
        ? ["basicConstraints=critical,CA:TRUE", "keyUsage=critical,keyCertSign,cRLSign"]
        : [
            "basicConstraints=CA:FALSE",
            `extendedKeyUsage=${o.kind === "server" ? "serverAuth" : "clientAuth"}`,
            ...(o.sans?.length ? [`subjectAltName=${o.sans.join(",")}`] : []),
          ];
    await writeFile(this.p(`${name}.ext`), `${ext.join("\n")}\n`);
    await this.ossl([
      "x509",
      "-req",
      "-in",
      this.p(`${name}.csr`),
      "-CA",
      this.p(`${issuer}.pem`),
      "-CAkey",
      this.p(`${issuer}.key`),
      "-set_serial",
      String(0x1000 + ++this.n),
      "-days",
      String(o.days ?? 10),
      "-sha256",
      "-extfile",
      this.p(`${name}.ext`),
      "-out",
      this.p(`${name}.pem`),
    ]);
    if (o.kind === "ca") {
      await writeFile(this.p(`${name}.index`), "");
      await writeFile(this.p(`${name}.crlnumber`), "1000\n");
    }
    return this.pair(name);
  }
  /** Revoke `cert` in `ca`'s database. */
  async revoke(ca: string, cert: string): Promise<void> {
    await this.ossl(["ca", "-config", this.p(`${ca}.cnf`), "-revoke", this.p(`${cert}.pem`)]);
  }
  /** The CA's current CRL, PEM. */
  async crl(ca: string): Promise<string> {
    const out = this.p(`${ca}.crl.pem`);
    await this.ossl(["ca", "-config", this.p(`${ca}.cnf`), "-gencrl", "-out", out]);
    return readFile(out, "utf8");
  }
}
