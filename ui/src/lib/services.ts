// The Services view's words: which connection a scan covers, its progress, its button. Pure
// functions, unit-tested (services.test.ts).
import type { ConnectionView, ScanProgress } from "../bindings";

/** The connection a scan covers: the first one up (as the back end picks it), or null. */
export function scanTarget(connections: Pick<ConnectionView, "name" | "state">[]): string | null {
  const up = connections.find((c) => c.state === "connected" || c.state === "stale" || c.state === "connecting");
  return up ? up.name : null;
}

/** The scan button's label. */
export function scanLabel(scanning: boolean, scanned: boolean): string {
  if (scanning) return "Scanning…";
  return scanned ? "Scan again" : "Scan";
}

/** The scan's progress, or the last scan's result, in words ("" before any scan). */
export function progressWords(p: ScanProgress | null): string {
  if (!p || !p.connection) return "";
  if (p.running) return `Scanning ${p.connection}… ${p.done}/${p.total} probed`;
  if (p.error) return `The scan of ${p.connection} stopped: ${p.error}`;
  const secs = (p.elapsed_ms / 1000).toFixed(1);
  const found = p.found === 1 ? "1 service" : `${p.found} services`;
  return `${found} found on ${p.connection}: ${p.total} ports probed in ${secs} s (at most ${p.peak_in_flight} at once).`;
}

/** The share of probes done, 0 to 1. */
export function progressShare(p: Pick<ScanProgress, "done" | "total"> | null): number {
  if (!p || p.total <= 0) return 0;
  return Math.min(1, Math.max(0, p.done / p.total));
}
