/**
 * Top self-time frames of a `.cpuprofile`:
 *   node bench/src/tools/top-frames.ts bench/results/profiles/gateway.cpuprofile [n]
 */
import { fileURLToPath } from "node:url";
import { summarizeProfile } from "../lib/cpuprofile.ts";

const [file, n = "20"] = process.argv.slice(2);
if (!file) {
  process.stderr.write("usage: top-frames.ts <file.cpuprofile> [n]\n");
  process.exit(2);
}
const root = fileURLToPath(new URL("../../../", import.meta.url));
const p = summarizeProfile(file, root, Number(n));
process.stdout.write(`${p.file}: busy ${p.busyMs} ms, idle ${p.idleMs} ms\n\n`);
for (const h of p.top)
  process.stdout.write(
    `${h.pct.toFixed(1).padStart(5)}%  ${String(h.selfMs).padStart(8)} ms  ${h.fn}  ${h.location}${h.caller ? `  <- ${h.caller}` : ""}\n`,
  );
process.stdout.write("\nby module:\n");
for (const m of p.byModule)
  process.stdout.write(`${m.pct.toFixed(1).padStart(5)}%  ${String(m.selfMs).padStart(8)} ms  ${m.module}\n`);
