// Pan and zoom of the VPC map, and which items are in view (drawn): pure, unit-tested.

export interface Rect {
  x: number;
  y: number;
  w: number;
  h: number;
}

/** The visible part of the drawing: its top-left corner and scale (screen px per unit). */
export interface View {
  x: number;
  y: number;
  scale: number;
}

export const MIN_SCALE = 0.02;
export const MAX_SCALE = 4;

/** The part of the drawing to fit: its top-left corner (0, 0 when absent) and size. */
export interface Extent {
  x?: number;
  y?: number;
  width: number;
  height: number;
}

/**
 * The view that fits `content` into a `screenW`×`screenH` area with a margin, centred, never
 * magnified above 1.5.
 */
export function fit(content: Extent, screenW: number, screenH: number): View {
  const margin = 16;
  const w = Math.max(content.width, 1);
  const h = Math.max(content.height, 1);
  const sx = (screenW - 2 * margin) / w;
  const sy = (screenH - 2 * margin) / h;
  const scale = clamp(Math.min(sx, sy, 1.5), MIN_SCALE, MAX_SCALE);
  return {
    x: (content.x ?? 0) - (screenW / scale - w) / 2,
    y: (content.y ?? 0) - (screenH / scale - h) / 2,
    scale,
  };
}

/** The smallest extent holding every rectangle (the whole map when there are none). */
export function bounds(items: Rect[], whole: { width: number; height: number }): Extent {
  if (!items.length) return { x: 0, y: 0, width: whole.width, height: whole.height };
  let x0 = Infinity;
  let y0 = Infinity;
  let x1 = -Infinity;
  let y1 = -Infinity;
  for (const r of items) {
    x0 = Math.min(x0, r.x);
    y0 = Math.min(y0, r.y);
    x1 = Math.max(x1, r.x + r.w);
    y1 = Math.max(y1, r.y + r.h);
  }
  return { x: x0, y: y0, width: x1 - x0, height: y1 - y0 };
}

/** Zooms by `factor` keeping the drawing point under screen point (px, py) fixed. */
export function zoomAt(v: View, factor: number, px: number, py: number): View {
  const scale = clamp(v.scale * factor, MIN_SCALE, MAX_SCALE);
  const wx = v.x + px / v.scale;
  const wy = v.y + py / v.scale;
  return { x: wx - px / scale, y: wy - py / scale, scale };
}

/** Moves the view by a screen-pixel drag. */
export function pan(v: View, dxPx: number, dyPx: number): View {
  return { x: v.x - dxPx / v.scale, y: v.y - dyPx / v.scale, scale: v.scale };
}

/** The items that intersect the visible area (plus a margin), in their original order. */
export function visible<T extends Rect>(items: T[], v: View, screenW: number, screenH: number): T[] {
  const pad = 50 / v.scale;
  const x0 = v.x - pad;
  const y0 = v.y - pad;
  const x1 = v.x + screenW / v.scale + pad;
  const y1 = v.y + screenH / v.scale + pad;
  return items.filter((r) => r.x + r.w >= x0 && r.x <= x1 && r.y + r.h >= y0 && r.y <= y1);
}

/** Hosts matching a search: by name, IP, security group or tag (`key=value`), case-insensitive. */
export function search<T extends { name: string; ips: string[]; groups: string[]; tags?: string[] }>(items: T[], q: string): T[] {
  const s = q.trim().toLowerCase();
  if (!s) return [];
  return items.filter(
    (h) =>
      h.name.toLowerCase().includes(s) ||
      h.ips.some((ip) => ip.includes(s)) ||
      h.groups.some((g) => g.toLowerCase().includes(s)) ||
      (h.tags ?? []).some((t) => t.toLowerCase().includes(s)),
  );
}

function clamp(n: number, lo: number, hi: number): number {
  return Math.min(hi, Math.max(lo, n));
}

/** Above this many hosts in view, the map draws them as one path per verdict (see `paths`). */
export const DENSE = 1200;

/**
 * One SVG path per group (the verdict): every rectangle of the group as a closed subpath.
 * A few elements instead of thousands when a big map is seen whole.
 */
export function paths<T extends Rect>(items: T[], group: (r: T) => string): { group: string; d: string }[] {
  const parts = new Map<string, string[]>();
  for (const r of items) {
    const g = group(r);
    let p = parts.get(g);
    if (!p) parts.set(g, (p = []));
    p.push(`M${r.x} ${r.y}h${r.w}v${r.h}h${-r.w}z`);
  }
  return [...parts].map(([g, p]) => ({ group: g, d: p.join("") }));
}

/** The last item (the one drawn on top) containing the drawing point (x, y), if any. */
export function hit<T extends Rect>(items: T[], x: number, y: number): T | undefined {
  for (let i = items.length - 1; i >= 0; i--) {
    const r = items[i];
    if (x >= r.x && x <= r.x + r.w && y >= r.y && y <= r.y + r.h) return r;
  }
  return undefined;
}
