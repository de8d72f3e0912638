import { spawn } from "node:child_process";
import { readFile, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { findStrays, killStrays } from "./strays.ts";
import { tmpDir } from "./tmp.ts";
import { waitFor } from "./wait.ts";

describe("harness/strays", () => {
  it("harness/strays - a stray that forks while it is ended is ended too, SIGKILL for one that ignores SIGTERM", async () => {
    await using dir = await tmpDir("ep-strays-");
    // parent.sh forks child.sh when asked to stop (as a reloading haproxy master forks its
    // new worker); child.sh ignores SIGTERM.
    const parent = join(dir.path, "parent.sh");
    const child = join(dir.path, "child.sh");
    const childPid = join(dir.path, "child.pid");
    await writeFile(child, `trap '' TERM\necho $$ > ${childPid}\nwhile :; do sleep 0.05; done\n`);
    await writeFile(parent, `trap 'sh ${child} & exit 0' TERM\nwhile :; do sleep 0.05; done\n`);
    const p = spawn("sh", [parent], { detached: true, stdio: "ignore" });
    p.unref();
    const pid = p.pid ?? -1;
    await waitFor(async () => (await findStrays(dir.path)).includes(pid) || undefined);
    const ended = await killStrays(dir.path, 2000);
    // The parent, and the child it forked after the first look (plus, maybe, a fork of the
    // parent caught before it exec'd `sleep`: it carries the parent's command line).
    expect(ended).toContain(pid);
    expect(ended).toContain(Number((await readFile(childPid, "utf8")).trim()));
    expect(await findStrays(dir.path)).toEqual([]);
  });
});
