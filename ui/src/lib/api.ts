// The commands of the app contract that this build's backend may not have yet (the cloud
// sources of the map: they land with the AWS / DigitalOcean drivers). Each is called through the
// generated `commands` object only when it is there; until then the UI leaves the piece out or
// shows it disabled (`has(name)` is false) instead of calling a command that does not exist.
import { commands, type AppError, type MapView, type Result } from "../bindings";

export type { ModePreference, ServiceInfo, Settings, Theme } from "../bindings";

type R<T> = Promise<Result<T, AppError>>;

/** The contract's optional commands, as tauri-specta names them. */
export interface ContractCommands {
  mapFromAws(profile: string | null, regions: string[]): R<MapView>;
  mapFromDigitalocean(): R<MapView>;
  setDigitaloceanToken(token: string): R<null>;
}
/** A contract command's name. */
export type ContractName = keyof ContractCommands;

const known = commands as unknown as Partial<ContractCommands>;

/** Whether this build's backend has the command. */
export function has(name: ContractName): boolean {
  return typeof known[name] === "function";
}

/** The command, or a thrown error naming it when this build's backend lacks it. */
export function contract<K extends ContractName>(name: K): ContractCommands[K] {
  const f = known[name];
  if (typeof f !== "function") throw new Error(`This build of the app has no "${name}" command yet.`);
  return f.bind(commands) as ContractCommands[K];
}

/** The words shown beside a control whose command the backend does not have yet. */
export const MISSING = "Not available in this build of the app yet.";
