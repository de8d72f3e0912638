/**
 * A small private network-namespace helper for the adapters tests (the shared
 * `test/harness/netns.ts` was not there when these were written): one namespace acting
 * as a Linux router — a veth pair to the host, nftables with an `inet filter` table,
 * `sshd` on the namespace's address with a temporary host key and one authorized test
 * key — plus a tiny TCP server inside to test traffic from the host side. Everything
 * is named randomly and removed on dispose (also after a failed test).
 */
import { type ChildProcess, execFile, spawn } from "node:child_process";
import { randomBytes } from "node:crypto";
import { mkdir, readFile, writeFile } from "node:fs/promises";
import { connect } from "node:net";
import { promisify } from "node:util";
import { type TmpDir, tmpDir, waitFor } from "../../harness/mod.ts";

const run = promisify(execFile);
const SBIN = "/usr/sbin:/sbin:/usr/bin:/bin";

export interface RouterNs {
  name: string;
  /** The namespace's address (sshd, the traffic server). */
  address: string;
  /** The host side of the veth. */
  hostAddress: string;
  sshPort: number;
  /** `ssh://address:port` */
  sshUrl: string;
  /** OpenSSH private key authorized for root. */
  privateKey: string;
  /** `SHA256:…` fingerprint of sshd's host key. */
  hostKeyFingerprint: string;
  /** Run a command inside the namespace (argv, no shell). */
  exec(argv: string[], stdin?: string): Promise<string>;
  /** `nft -j list ruleset` inside the namespace. */
  ruleset(): Promise<Array<Record<string, unknown>>>;
  /** Start a TCP server in the namespace answering "ok\n" on `port`. */
  serve(port: number): Promise<void>;
  /** True when a TCP connection from the host to `port` gets the server's answer within `timeoutMs`. */
  reachable(port: number, timeoutMs?: number): Promise<boolean>;
  [Symbol.asyncDispose](): Promise<void>;
}

async function sh(argv: string[], stdin?: string): Promise<string> {
  const [cmd, ...args] = argv as [string, ...string[]];
  const p = run(cmd, args, { env: { PATH: SBIN } });
  if (stdin !== undefined) p.child.stdin?.end(stdin);
  return (await p).stdout;
}

export async function startRouterNs(): Promise<RouterNs> {
  const id = randomBytes(3).toString("hex");
  const name = `epa-${id}`;
  const vh = `vah${id}`;
  const vn = `van${id}`;
  const octet = 16 + Math.floor(Math.random() * 200);
  const quad = Math.floor(Math.random() * 60) * 4;
  const hostAddress = `10.241.${octet}.${quad + 1}`;
  const address = `10.241.${octet}.${quad + 2}`;
  const sshPort = 2222;
  const children: ChildProcess[] = [];
  let dir: TmpDir | undefined;
  const inNs = (argv: string[], stdin?: string) => sh(["ip", "netns", "exec", name, ...argv], stdin);

  const dispose = async () => {
    for (const c of children) if (c.exitCode === null) c.kill("SIGKILL");
    await sh(["ip", "netns", "del", name]).catch(() => undefined);
    await sh(["ip", "link", "del", vh]).catch(() => undefined);
    await dir?.[Symbol.asyncDispose]();
  };

  try {
    await sh(["ip", "netns", "add", name]);
    await sh(["ip", "link", "add", vh, "type", "veth", "peer", "name", vn]);
    await sh(["ip", "link", "set", vn, "netns", name]);
    await sh(["ip", "addr", "add", `${hostAddress}/30`, "dev", vh]);
    await sh(["ip", "link", "set", vh, "up"]);
    await inNs(["ip", "addr", "add", `${address}/30`, "dev", vn]);
    await inNs(["ip", "link", "set", vn, "up"]);
    await inNs(["ip", "link", "set", "lo", "up"]);
    // nft opens /dev/stdin, which fails on a socket (node's stdio): feed it through a pipe.
    await inNs(
      ["sh", "-c", "cat | nft -j -f -"],
      JSON.stringify({
        nftables: [
          { add: { table: { family: "inet", name: "filter" } } },
          {
            add: {
              chain: {
                family: "inet",
                table: "filter",
                name: "input",
                type: "filter",
                hook: "input",
                prio: 0,
                policy: "accept",
              },
            },
          },
        ],
      }),
    );

    dir = await tmpDir("ep-adapters-ns-");
    const d = dir.path;
    await sh(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", `${d}/host_key`]);
    await sh(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", `${d}/client_key`]);
    await writeFile(`${d}/authorized_keys`, await readFile(`${d}/client_key.pub`), { mode: 0o600 });
    const fp =
      (await sh(["ssh-keygen", "-l", "-E", "sha256", "-f", `${d}/host_key.pub`])).split(" ")[1] ?? "";
    await writeFile(
      `${d}/sshd_config`,
      [
        `Port ${sshPort}`,
        `ListenAddress ${address}`,
        `HostKey ${d}/host_key`,
        `AuthorizedKeysFile ${d}/authorized_keys`,
        `PidFile ${d}/sshd.pid`,
        "PermitRootLogin prohibit-password",
        "PasswordAuthentication no",
        "KbdInteractiveAuthentication no",
        "UsePAM no",
        "StrictModes no",
        "LogLevel ERROR",
        "",
      ].join("\n"),
    );
    await mkdir("/run/sshd", { recursive: true, mode: 0o755 });
    const sshd = spawn(
      "ip",
      ["netns", "exec", name, "/usr/sbin/sshd", "-D", "-e", "-f", `${d}/sshd_config`],
      {
        env: { PATH: SBIN },
        stdio: ["ignore", "ignore", "pipe"],
      },
    );
    children.push(sshd);
    let sshdErr = "";
    sshd.stderr?.on("data", (b: Buffer) => {
      sshdErr += b.toString();
    });
    const probe = (port: number, timeoutMs: number) =>
      new Promise<string | undefined>((resolve) => {
        const s = connect({ host: address, port, timeout: timeoutMs });
        let got = "";
        s.on("data", (b) => {
          got += b.toString();
          s.destroy();
          resolve(got);
        });
        s.on("timeout", () => {
          s.destroy();
          resolve(undefined);
        });
        s.on("error", () => resolve(undefined));
        s.on("close", () => resolve(got || undefined));
      });
    await waitFor(async () => (await probe(sshPort, 500))?.startsWith("SSH-"), {
      timeout: 10_000,
      message: `sshd in ${name} (${sshdErr})`,
    });
    const privateKey = await readFile(`${d}/client_key`, "utf8");

    const ns: RouterNs = {
      name,
      address,
      hostAddress,
      sshPort,
      sshUrl: `ssh://${address}:${sshPort}`,
      privateKey,
      hostKeyFingerprint: fp,
      exec: inNs,
      async ruleset() {
        const out = JSON.parse(await inNs(["nft", "-j", "list", "ruleset"])) as {
          nftables: Array<Record<string, unknown>>;
        };
        return out.nftables.filter((o) => !("metainfo" in o));
      },
      async serve(port) {
        const script = `require("node:net").createServer((s) => s.end("ok\\n")).listen(${port}, ${JSON.stringify(address)}, () => console.log("up"))`;
        const p = spawn("ip", ["netns", "exec", name, process.execPath, "-e", script], {
          env: { PATH: SBIN },
          stdio: ["ignore", "pipe", "inherit"],
        });
        children.push(p);
        await new Promise<void>((resolve, reject) => {
          p.stdout?.once("data", () => resolve());
          p.once("exit", (code) => reject(new Error(`traffic server exited ${code}`)));
        });
      },
      async reachable(port, timeoutMs = 1500) {
        return (await probe(port, timeoutMs)) === "ok\n";
      },
      [Symbol.asyncDispose]: dispose,
    };
    return ns;
  } catch (err) {
    await dispose();
    throw err;
  }
}
