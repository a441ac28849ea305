// The map on screen, kept while the user visits other views (a file's map stays loaded).
// Held raw: thousands of hosts are replaced whole, never edited, so no deep proxies.
import type { MapView } from "../bindings";

/** Where the map on screen came from. */
export type MapKind = "demo" | "file" | "cloud" | "synthetic";

class MapStore {
  current = $state.raw<MapView | null>(null);
  kind = $state<MapKind>("demo");
  /** The zoom and position the user left the map at (null: fitted), kept across views. */
  view = $state.raw<{ x: number; y: number; scale: number } | null>(null);
  /** Verdicts the user has hidden from the map (by clicking them in the legend). */
  hidden = $state<string[]>([]);
}

/** The one map store of the window. */
export const mapStore = new MapStore();
