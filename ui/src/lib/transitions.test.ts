import { describe, expect, it, vi } from "vitest";

// app.svelte.ts imports the generated bindings, which import Tauri's API: stub them so the
// pure function can be tested in Node.
vi.mock("../bindings", () => ({ commands: {}, events: {} }));

const { transitionsBetween } = await import("./app.svelte");

const c = (name: string, state: string) => ({ name, state }) as never;

describe("transitionsBetween", () => {
  it("reports new connections and changed states only", () => {
    expect(transitionsBetween([], [c("demo", "connecting")], 1)).toEqual([{ name: "demo", state: "connecting", at: 1 }]);
    expect(transitionsBetween([c("demo", "connecting")], [c("demo", "connecting")], 2)).toEqual([]);
    expect(transitionsBetween([c("demo", "connecting"), c("home", "disconnected")], [c("demo", "connected"), c("home", "disconnected")], 3)).toEqual([
      { name: "demo", state: "connected", at: 3 },
    ]);
  });
});
