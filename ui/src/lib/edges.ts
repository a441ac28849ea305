// Where the map's lines go: between the facing sides of two rectangles. Pure.
import type { Rect } from "./viewport";

/** A straight line. */
export interface Line {
  x1: number;
  y1: number;
  x2: number;
  y2: number;
}

/**
 * The line joining `a` and `b` between their facing sides: side by side, from a's right (or
 * left) middle to b's left (or right) middle; one above the other, from bottom middle to top
 * middle; overlapping, centre to centre.
 */
export function connect(a: Rect, b: Rect): Line {
  const ca = { x: a.x + a.w / 2, y: a.y + a.h / 2 };
  const cb = { x: b.x + b.w / 2, y: b.y + b.h / 2 };
  if (a.x + a.w <= b.x) return { x1: a.x + a.w, y1: ca.y, x2: b.x, y2: cb.y };
  if (b.x + b.w <= a.x) return { x1: a.x, y1: ca.y, x2: b.x + b.w, y2: cb.y };
  if (a.y + a.h <= b.y) return { x1: ca.x, y1: a.y + a.h, x2: cb.x, y2: b.y };
  if (b.y + b.h <= a.y) return { x1: ca.x, y1: a.y, x2: cb.x, y2: b.y + b.h };
  return { x1: ca.x, y1: ca.y, x2: cb.x, y2: cb.y };
}

/** The items an edge joins, by id; edges with an end not on the map are left out. */
export function placed<E extends { from: string; to: string }, R extends Rect & { id: string }>(
  edges: E[],
  items: R[],
): { edge: E; line: Line; a: R; b: R }[] {
  const byId = new Map(items.map((r) => [r.id, r]));
  const out: { edge: E; line: Line; a: R; b: R }[] = [];
  for (const e of edges) {
    const a = byId.get(e.from);
    const b = byId.get(e.to);
    if (a && b && a !== b) out.push({ edge: e, line: connect(a, b), a, b });
  }
  return out;
}

/** How far a peering between stacked boxes bulges out to the right of them. */
export const BULGE = 48;

/**
 * The SVG path of a peering between `a` and `b`: boxes one above the other (their columns
 * overlap) are joined by a curve out to the right of both, so it crosses neither box nor what
 * sits on their edges; boxes side by side by a straight line between their facing sides.
 * `mid` is where its label goes.
 */
export function peeringPath(a: Rect, b: Rect): { d: string; mid: { x: number; y: number } } {
  const stacked = a.x < b.x + b.w && b.x < a.x + a.w;
  if (!stacked) {
    const l = connect(a, b);
    return { d: `M${l.x1} ${l.y1}L${l.x2} ${l.y2}`, mid: { x: (l.x1 + l.x2) / 2, y: (l.y1 + l.y2) / 2 } };
  }
  const x1 = a.x + a.w;
  const y1 = a.y + a.h / 2;
  const x2 = b.x + b.w;
  const y2 = b.y + b.h / 2;
  const out = Math.max(x1, x2) + BULGE;
  return { d: `M${x1} ${y1}C${out} ${y1} ${out} ${y2} ${x2} ${y2}`, mid: { x: out - BULGE / 4, y: (y1 + y2) / 2 } };
}
