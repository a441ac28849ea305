// Live rx/tx rates from successive ConnectionsChanged payloads, and the chart's geometry:
// pure, unit-tested (rates.test.ts).

/** One point of a connection's chart: bytes per second over the interval ending at `at`. */
export interface RatePoint {
  /** Milliseconds (the clock of the samples). */
  at: number;
  /** Received bytes per second. */
  rx: number;
  /** Sent bytes per second. */
  tx: number;
}

/** A connection's counters at one moment, and its rates so far (oldest first). */
export interface RateTrack {
  at: number;
  rx_bytes: number;
  tx_bytes: number;
  points: RatePoint[];
}

/** What the rates need of a connection. */
export interface Counters {
  name: string;
  state: string;
  rx_bytes: number;
  tx_bytes: number;
}

/** How many points a chart keeps (one a second: a minute). */
export const KEEP = 60;

const running = (state: string) => state === "connecting" || state === "connected" || state === "stale";

/**
 * The tracks after a new payload at time `at` (ms). A connection that is not running has no
 * track; counters that go down (a reconnect) start the track again; a payload less than 200 ms
 * after the previous one only updates nothing (too short an interval for a rate).
 */
export function nextTracks(
  tracks: Record<string, RateTrack>,
  conns: Counters[],
  at: number,
  keep: number = KEEP,
): Record<string, RateTrack> {
  const out: Record<string, RateTrack> = {};
  for (const c of conns) {
    if (!running(c.state)) continue;
    const prev = tracks[c.name];
    const rx = finite(c.rx_bytes);
    const tx = finite(c.tx_bytes);
    if (!prev || rx < prev.rx_bytes || tx < prev.tx_bytes || at < prev.at) {
      out[c.name] = { at, rx_bytes: rx, tx_bytes: tx, points: [] };
      continue;
    }
    const dt = (at - prev.at) / 1000;
    if (dt < 0.2) {
      out[c.name] = prev;
      continue;
    }
    const point = { at, rx: (rx - prev.rx_bytes) / dt, tx: (tx - prev.tx_bytes) / dt };
    out[c.name] = { at, rx_bytes: rx, tx_bytes: tx, points: [...prev.points, point].slice(-keep) };
  }
  return out;
}

function finite(n: number): number {
  return Number.isFinite(n) && n > 0 ? n : 0;
}

/** The chart of a track: two SVG polylines in a `w`×`h` box and the top of the scale. */
export interface ChartGeometry {
  rx: string;
  tx: string;
  /** Bytes per second at the top edge (a round number, at least 1 KiB/s). */
  max: number;
}

/**
 * Polylines for rx and tx, the newest point at the right edge and `keep` points across,
 * scaled to a round maximum so the chart does not jump at every sample.
 */
export function chart(points: RatePoint[], w: number, h: number, keep: number = KEEP): ChartGeometry {
  const peak = points.reduce((m, p) => Math.max(m, p.rx, p.tx), 0);
  const max = roundUp(Math.max(peak, 1024));
  const step = keep > 1 ? w / (keep - 1) : w;
  const x0 = w - (points.length - 1) * step;
  const line = (pick: (p: RatePoint) => number) =>
    points
      .map((p, i) => `${round(x0 + i * step)},${round(h - (Math.max(pick(p), 0) / max) * h)}`)
      .join(" ");
  return { rx: line((p) => p.rx), tx: line((p) => p.tx), max };
}

/** The smallest 1, 2 or 5 × 1024^k × 10^j at or above n. */
export function roundUp(n: number): number {
  let unit = 1;
  while (n / unit >= 1024) unit *= 1024;
  const v = n / unit;
  const mag = 10 ** Math.floor(Math.log10(v));
  for (const m of [1, 2, 5, 10]) if (m * mag >= v) return m * mag * unit;
  return 10 * mag * unit;
}

const round = (n: number) => Math.round(n * 10) / 10;
