import { describe, expect, it } from "vitest";
import type { MapView } from "../bindings";
import { mapSvg, xmlEscape } from "./mapexport";

const host = (name: string, x: number, verdict: "reachable" | "blocked") => ({
  id: `i-${name}`,
  name,
  ips: ["10.0.0.1"],
  groups: [],
  services: [],
  verdict,
  sentence: `${name} <is> "${verdict}"`,
  codes: [],
  path: [],
  x,
  y: 40,
  w: 150,
  h: 36,
});

describe("map export", () => {
  it("holds every host name, escaped, in a well-formed document", () => {
    const map: MapView = {
      source: "state & co",
      width: 400,
      height: 100,
      boxes: [{ id: "vpc-1", kind: "vpc", label: "prod <main>", cidr: "10.0.0.0/16", x: 0, y: 0, w: 400, h: 100 }],
      hosts: [host("web-1", 10, "reachable"), host("db&<1>", 200, "blocked")],
    } as unknown as MapView;
    const svg = mapSvg(map);
    expect(svg.startsWith("<?xml")).toBe(true);
    expect(svg.trim().endsWith("</svg>")).toBe(true);
    expect(svg).toContain(">web-1<");
    expect(svg).toContain(xmlEscape("db&<1>"));
    expect(svg).not.toContain("db&<1>");
    expect(svg).toContain("prod &lt;main&gt;");
    // Every element opened is closed (a cheap well-formedness check; the app e2e parses it).
    const opened = (svg.match(/<(g|svg|text|title)[\s>]/g) ?? []).length;
    const closed = (svg.match(/<\/(g|svg|text|title)>/g) ?? []).length;
    expect(opened).toBe(closed);
  });
});
