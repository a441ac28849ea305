// The app's shared state: connections and log lines, kept current by the events Rust pushes.
import { nextTracks, type RateTrack } from "./rates";
import { commands, events, type AppError, type ConnectionView, type LogLine, type Result, type StateKind } from "../bindings";

export const app = $state({
  connections: [] as ConnectionView[],
  logs: [] as LogLine[],
  loaded: false,
  error: "" as string,
  /** Every state change seen, oldest first (the cards show the latest ones). */
  transitions: [] as Transition[],
  /** Live rx/tx rates per running connection, from successive payloads. */
  rates: {} as Record<string, RateTrack>,
});

/** A connection entering a state. */
export interface Transition {
  name: string;
  state: StateKind;
  at: number;
}

/** The transitions between two lists of connections (new connections count from nothing). */
export function transitionsBetween(before: ConnectionView[], after: ConnectionView[], at: number): Transition[] {
  const old = new Map(before.map((c) => [c.name, c.state]));
  return after.filter((c) => old.get(c.name) !== c.state).map((c) => ({ name: c.name, state: c.state, at }));
}

function setConnections(next: ConnectionView[]) {
  const t = transitionsBetween(app.connections, next, Date.now());
  if (t.length) app.transitions = [...app.transitions.slice(-199), ...t];
  app.connections = next;
  app.rates = nextTracks(app.rates, next, Date.now());
}

/** The data of a command's result, or throws its error message. */
export function unwrap<T>(r: Result<T, AppError>): T {
  if (r.status === "error") throw new Error(r.error.message);
  return r.data;
}

let started = false;

/** Loads the connections and the log, then follows the events. */
export async function start(): Promise<void> {
  if (started) return;
  started = true;
  await events.connectionsChanged.listen((e) => {
    setConnections(e.payload);
  });
  await events.logAdded.listen((e) => {
    app.logs = [...app.logs.slice(-499), e.payload];
  });
  try {
    setConnections(unwrap(await commands.listConnections()));
    app.logs = unwrap(await commands.listLogs());
  } catch (e) {
    app.error = String(e);
  }
  app.loaded = true;
}

// The end-to-end tests (tests/app) drive the same generated commands the views use.
(globalThis as Record<string, unknown>).__gatehouse = { commands, app };
