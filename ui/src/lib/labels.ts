// How host labels are sized on the map: never smaller than MIN_LABEL_PX on screen, cut to the
// width of their box, and hidden when their box is too small on screen to hold them. Pure.

/** The smallest on-screen size (CSS px) of a host label. */
export const MIN_LABEL_PX = 11.5;
/** The label size in drawing units when the map is drawn at scale 1. */
export const BASE_LABEL = 12;
/** The average advance of a glyph of the UI font, in ems (DejaVu Sans / system sans, lowercase and digits, rounded up). */
const EM_ADVANCE = 0.64;

/** The font size (drawing units) of host labels at `scale`, and whether they fit a box `boxH` tall. */
export function labelFont(scale: number, boxH: number): { size: number; shown: boolean; second: boolean } {
  const size = Math.max(BASE_LABEL, MIN_LABEL_PX / Math.max(scale, 1e-6));
  return { size, shown: size <= boxH * 0.8, second: size * 2.15 <= boxH };
}

/** `text` cut with an ellipsis so that, at `size`, it fits `width` drawing units. */
export function fitText(text: string, size: number, width: number): string {
  const max = Math.floor(width / (size * EM_ADVANCE));
  if (text.length <= max) return text;
  if (max <= 1) return "…";
  return `${text.slice(0, max - 1)}…`;
}
