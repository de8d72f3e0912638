/**
 * Helpers for exporting a large audit table: fill it in SQL, stream the CSV export while
 * sampling the RSS of given processes, count rows without keeping them. Used by
 * audit-export.test.ts and bench/src/benchmarks/audit-export.ts.
 */
import { readFile } from "node:fs/promises";
import pg from "pg";

/**
 * Append `n` plausible rows after the table's last seq, generated in PostgreSQL in
 * batches of 250k (one statement each). The hashes are filler: exporting does not
 * check the chain. `padBytes` adds a field of that many bytes to every summary (fat rows
 * make a body much larger than any memory bound, at a given row count).
 */
export async function insertAuditRows(databaseUrl: string, n: number, padBytes = 0): Promise<void> {
  const c = new pg.Client({ connectionString: databaseUrl });
  await c.connect();
  try {
    const first = Number(
      (await c.query<{ m: string }>("SELECT coalesce(max(seq), 0) AS m FROM audit_log")).rows[0]?.m,
    );
    for (let from = 1; from <= n; from += 250_000) {
      const to = Math.min(n, from + 249_999);
      await c.query(
        `INSERT INTO audit_log (seq, event_id, time, actor_type, actor_id, actor_name, action, category,
           target_type, target_id, result, request_id, source_ip, summary, prev_hash, row_hash)
         SELECT $1::bigint + g, 'evt_export' || lpad(g::text, 10, '0'),
                timestamptz '2025-01-01T00:00:00Z' + g * interval '1 millisecond',
                'api_key', 'key_exportbench0000', 'export-bench', 'haproxy.state.put', 'haproxy',
                'haproxy_cluster', 'edge-' || (g % 16), CASE WHEN g % 10 = 0 THEN 'denied' ELSE 'success' END,
                'req_' || md5(g::text), '10.0.' || (g % 256) || '.' || (g % 200),
                '{"backends":' || (g % 50) || ',"changed":["web","api"],"note":"a, \\"quoted\\" note","pad":"' || repeat('x', $4) || '"}',
                sha256(int8send(g - 1)), sha256(int8send(g))
           FROM generate_series($2::bigint, $3::bigint) AS g`,
        [first, from, to, padBytes],
      );
    }
    await c.query("ANALYZE audit_log");
  } finally {
    await c.end();
  }
}

/** Resident set size of a process in MiB (Linux). */
export async function rssMiB(pid: number): Promise<number> {
  const status = await readFile(`/proc/${pid}/status`, "utf8");
  const kb = Number(/^VmRSS:\s+(\d+) kB/m.exec(status)?.[1] ?? Number.NaN);
  return kb / 1024;
}

export interface ExportResult {
  status: number;
  /** The header line. */
  header: string;
  /** Data rows (lines after the header). */
  rows: number;
  bytes: number;
  /** Every row's seq is greater than the previous one's. */
  inOrder: boolean;
  ms: number;
  /** Highest RSS seen per sampled process (MiB). */
  peakMiB: Record<string, number>;
}

/**
 * GET a CSV export and consume it as it arrives (nothing but the current line is kept),
 * sampling the RSS of `pids` every 50 ms. Rows are CRLF-terminated; cells never contain
 * a bare CRLF in these tables, and the first cell is the seq.
 */
export async function exportCsv(
  url: string,
  opts: { key: string; pids?: Record<string, number> },
): Promise<ExportResult> {
  const peakMiB: Record<string, number> = {};
  const pids = Object.entries(opts.pids ?? {});
  const sample = async () => {
    for (const [name, pid] of pids) peakMiB[name] = Math.max(peakMiB[name] ?? 0, await rssMiB(pid));
  };
  await sample();
  const timer = setInterval(() => void sample().catch(() => undefined), 50);
  const started = performance.now();
  try {
    const r = await fetch(url, { headers: { authorization: `Bearer ${opts.key}` } });
    let header = "";
    let rows = 0;
    let bytes = 0;
    let inOrder = true;
    let last = -1;
    let carry = "";
    const decoder = new TextDecoder();
    for await (const chunk of r.body ?? []) {
      bytes += chunk.byteLength;
      const text = carry + decoder.decode(chunk, { stream: true });
      let start = 0;
      for (let i = text.indexOf("\r\n"); i >= 0; i = text.indexOf("\r\n", start)) {
        const line = text.slice(start, i);
        start = i + 2;
        if (!header) {
          header = line;
          continue;
        }
        rows++;
        const seq = Number(line.slice(0, line.indexOf(",")));
        if (!(seq > last)) inOrder = false;
        last = seq;
      }
      carry = text.slice(start);
    }
    await sample();
    return {
      status: r.status,
      header,
      rows,
      bytes,
      inOrder,
      ms: Math.round(performance.now() - started),
      peakMiB,
    };
  } finally {
    clearInterval(timer);
  }
}
