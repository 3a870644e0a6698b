// The server's settings come from package.json (one list, checked against the server's Settings
// model by tests/clients/test_vscode.py); only the keys below belong to the client.

import { CONFIG_SECTION } from './protocol';

export const CLIENT_ONLY = ['interpreter', 'server.tcp', 'server.socket', 'server.tokenFile',
  'trace.server'];

/** The part of vscode.WorkspaceConfiguration this module reads. */
export interface ConfigurationLike {
  get<T>(key: string): T | undefined;
  inspect<T>(key: string): {
    globalValue?: T;
    workspaceValue?: T;
    workspaceFolderValue?: T;
  } | undefined;
}

interface ConfigurationContribution {
  properties?: Record<string, unknown>;
}

/** Every `verifix.*` setting contributed in package.json, without the prefix. */
export function contributedKeys(packageJson: unknown): string[] {
  const contributes = (packageJson as { contributes?: { configuration?: unknown } }).contributes;
  const raw = contributes?.configuration;
  const sections = (Array.isArray(raw) ? raw : raw ? [raw] : []) as ConfigurationContribution[];
  const prefix = `${CONFIG_SECTION}.`;
  return sections
    .flatMap((s) => Object.keys(s.properties ?? {}))
    .filter((k) => k.startsWith(prefix))
    .map((k) => k.slice(prefix.length));
}

export function serverKeys(packageJson: unknown): string[] {
  return contributedKeys(packageJson).filter((k) => !CLIENT_ONLY.includes(k));
}

/** {"sandbox.allowWeak": true} -> {sandbox: {allowWeak: true}} */
export function nest(flat: Record<string, unknown>): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const [key, value] of Object.entries(flat)) {
    const parts = key.split('.');
    let node = out;
    for (const part of parts.slice(0, -1)) {
      if (typeof node[part] !== 'object' || node[part] === null) {
        node[part] = {};
      }
      node = node[part] as Record<string, unknown>;
    }
    node[parts[parts.length - 1]] = value;
  }
  return out;
}

function isSet(config: ConfigurationLike, key: string): boolean {
  const seen = config.inspect(key);
  return seen !== undefined && (seen.globalValue !== undefined
    || seen.workspaceValue !== undefined || seen.workspaceFolderValue !== undefined);
}

/**
 * The "verifix" object the server reads (initializationOptions, workspace/configuration,
 * didChangeConfiguration). Only settings the user set are sent: a VS Code default must not
 * override the project's [tool.verifix] table, which ranks below editor settings.
 */
export class ServerSettings {
  // The server keeps its initializationOptions layer: a key sent once is sent from then on,
  // with the default once unset, so that removing a setting takes effect.
  private readonly sent = new Set<string>();

  constructor(private readonly keys: readonly string[]) {}

  section(config: ConfigurationLike): Record<string, unknown> {
    const flat: Record<string, unknown> = {};
    for (const key of this.keys) {
      if (isSet(config, key) || this.sent.has(key)) {
        const value = config.get<unknown>(key);
        if (value !== undefined) {
          flat[key] = value;
          this.sent.add(key);
        }
      }
    }
    return nest(flat);
  }
}
