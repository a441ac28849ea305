// Small text helpers for the editors: pure, unit-tested (text.test.ts).

/** The offset of the first character of 1-based `line` in `text` (the end when past it). */
export function lineStart(text: string, line: number): number {
  let at = 0;
  for (let l = 1; l < line; l++) {
    const nl = text.indexOf("\n", at);
    if (nl < 0) return text.length;
    at = nl + 1;
  }
  return at;
}

/** A profile name from a file name: the stem, without the last extension. */
export function stem(fileName: string): string {
  const base = fileName.split(/[\\/]/).pop() ?? "";
  const dot = base.lastIndexOf(".");
  return dot > 0 ? base.slice(0, dot) : base;
}
