// The commands of the app contract (prompts: settings, profile editing and export, QR, maps from
// the user's own topology) that the backend adds one by one. Each is called through the
// generated `commands` object only when it is there; until then the UI shows the piece disabled
// (`has(name)` is false) instead of calling a command that does not exist.
import { commands, type AppError, type ImportOutcome, type MapView, type Result } from "../bindings";

/** Which connection mode the user prefers. */
export type ModePreference = "auto" | "service" | "no_root";
/** The colour scheme. */
export type Theme = "system" | "light" | "dark";

/** The app's settings (persisted by the backend). */
export interface Settings {
  mode: ModePreference;
  kill_switch: boolean;
  start_at_login: boolean;
  notifications: boolean;
  theme: Theme;
}

/** Whether the privileged service runs, and a sentence saying so. */
export interface ServiceInfo {
  available: boolean;
  socket: string;
  detail: string;
}

type R<T> = Promise<Result<T, AppError>>;

/** The contract's commands, as tauri-specta names them. */
export interface ContractCommands {
  getSettings(): R<Settings>;
  setSettings(settings: Settings): R<Settings>;
  serviceInfo(): R<ServiceInfo>;
  profileText(name: string): R<string>;
  updateProfile(name: string, text: string): R<ImportOutcome>;
  exportProfile(name: string, path: string): R<string>;
  profileQr(name: string): R<string>;
  importQrImage(name: string, image: number[]): R<ImportOutcome>;
  mapFromFile(name: string, text: string): R<MapView>;
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
