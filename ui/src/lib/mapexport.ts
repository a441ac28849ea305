// The whole map as a standalone SVG document (for tickets and docs): every box and host with its
// name, coloured by verdict, styles inline so it looks the same outside the app. Pure; the PNG is
// this document drawn on a canvas (svgToPng, browser only).
import type { MapView } from "../bindings";

const VERDICT_COLOURS: Record<string, string> = {
  reachable: "#1e7b3a",
  blocked: "#c0392b",
  not_routed: "#b06a00",
  unknown: "#6b7480",
};

/** Text made safe for XML content and attributes. */
export function xmlEscape(s: string): string {
  return s.replace(/[<>&"']/g, (c) => ({ "<": "&lt;", ">": "&gt;", "&": "&amp;", '"': "&quot;", "'": "&apos;" })[c] ?? c);
}

/** The map as an SVG document, with a margin around its extent. */
export function mapSvg(map: MapView): string {
  const items = [...map.boxes, ...map.hosts];
  const x0 = Math.min(0, ...items.map((r) => r.x)) - 16;
  const y0 = Math.min(0, ...items.map((r) => r.y)) - 16 - 28;
  const x1 = Math.max(map.width, ...items.map((r) => r.x + r.w)) + 16;
  const y1 = Math.max(map.height, ...items.map((r) => r.y + r.h)) + 16;
  const w = Math.ceil(x1 - x0);
  const h = Math.ceil(y1 - y0);
  const out: string[] = [];
  out.push(`<?xml version="1.0" encoding="UTF-8"?>`);
  out.push(
    `<svg xmlns="http://www.w3.org/2000/svg" width="${w}" height="${h}" viewBox="${x0} ${y0} ${w} ${h}" font-family="DejaVu Sans, sans-serif">`,
  );
  out.push(`<title>${xmlEscape(`Gatehouse map: ${map.source}`)}</title>`);
  out.push(`<rect x="${x0}" y="${y0}" width="${w}" height="${h}" fill="#ffffff"/>`);
  out.push(`<text x="${x0 + 16}" y="${y0 + 24}" font-size="16" fill="#1b1f24">${xmlEscape(`${map.source}: ${map.hosts.length} hosts`)}</text>`);
  for (const b of map.boxes) {
    const stroke = b.kind === "vpc" ? "#2b6cb0" : "#9aa3ad";
    const dash = b.kind === "region" ? ` stroke-dasharray="8 5"` : "";
    const fill = b.kind === "vpc" ? "#f1f6fc" : b.kind === "gateway" || b.kind === "load_balancer" ? "#eef0f2" : "none";
    out.push(`<g class="box ${xmlEscape(b.kind)}"><rect x="${b.x}" y="${b.y}" width="${b.w}" height="${b.h}" rx="6" fill="${fill}" stroke="${stroke}" stroke-width="2"${dash}/>`);
    out.push(`<text x="${b.x + 8}" y="${b.y + 17}" font-size="12" fill="#5b6470">${xmlEscape(b.label)}${b.cidr ? ` · ${xmlEscape(b.cidr)}` : ""}</text></g>`);
  }
  for (const host of map.hosts) {
    const c = VERDICT_COLOURS[host.verdict] ?? VERDICT_COLOURS.unknown;
    out.push(
      `<g class="host" data-verdict="${xmlEscape(host.verdict)}"><title>${xmlEscape(host.sentence)}</title><rect x="${host.x}" y="${host.y}" width="${host.w}" height="${host.h}" rx="4" fill="${c}" fill-opacity="0.18" stroke="${c}" stroke-width="2"/>`,
    );
    out.push(`<text x="${host.x + 6}" y="${host.y + 15}" font-size="12" fill="#1b1f24">${xmlEscape(host.name)}</text>`);
    if (host.ips[0]) out.push(`<text x="${host.x + 6}" y="${host.y + 29}" font-size="10" fill="#5b6470">${xmlEscape(host.ips[0])}</text>`);
    out.push(`</g>`);
  }
  out.push(`</svg>`);
  return out.join("\n");
}

/** The SVG document drawn on a canvas, as a PNG data URL (at most `maxSide` px on a side). */
export async function svgToPng(svg: string, maxSide = 8000): Promise<string> {
  const m = /width="(\d+)" height="(\d+)"/.exec(svg);
  const w = Number(m?.[1] ?? 800);
  const h = Number(m?.[2] ?? 600);
  const k = Math.min(1, maxSide / Math.max(w, h));
  // A data URL (the window's content security policy allows data: pictures, not blob: ones).
  const url = `data:image/svg+xml;charset=utf-8,${encodeURIComponent(svg)}`;
  {
    const img = new Image();
    await new Promise<void>((ok, fail) => {
      img.onload = () => ok();
      img.onerror = () => fail(new Error("the map could not be drawn as a picture"));
      img.src = url;
    });
    const canvas = document.createElement("canvas");
    canvas.width = Math.max(1, Math.round(w * k));
    canvas.height = Math.max(1, Math.round(h * k));
    const ctx = canvas.getContext("2d");
    if (!ctx) throw new Error("no canvas to draw the map on");
    ctx.drawImage(img, 0, 0, canvas.width, canvas.height);
    return canvas.toDataURL("image/png");
  }
}
