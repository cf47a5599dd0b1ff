import { loadConfig } from '../config/load';

/** The control socket to talk to: --socket, else the one the configuration names. */
export function controlPath(values: Record<string, string | boolean | undefined>): string {
  if (typeof values.socket === 'string') return values.socket;
  return loadConfig(values.config as string).appliance.controlSocket;
}
