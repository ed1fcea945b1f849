import { homedir } from 'node:os';
import { isAbsolute, join, resolve } from 'node:path';

/** Set at build time (scripts/build.mjs): /usr/share/tails-launch in the package. */
declare const __SHIPPED_DIR__: string;

export interface Layer {
  name: 'shipped' | 'admin' | 'user' | 'config-dir';
  dir: string;
}

/**
 * The configuration layers, later ones overriding earlier ones: shipped,
 * admin, user. `--config-dir DIR` replaces all three with DIR alone (tests,
 * image builds).
 */
export function configLayers(
  configDir: string | undefined,
  env: Readonly<Record<string, string | undefined>>,
): Layer[] {
  if (configDir !== undefined) return [{ name: 'config-dir', dir: resolve(configDir) }];
  // XDG Base Directory: an unset, empty or relative XDG_CONFIG_HOME is ignored.
  const xdg = env.XDG_CONFIG_HOME;
  const configHome = xdg && isAbsolute(xdg) ? xdg : join(env.HOME || homedir(), '.config');
  return [
    { name: 'shipped', dir: typeof __SHIPPED_DIR__ === 'string' ? __SHIPPED_DIR__ : '/usr/share/tails-launch' },
    { name: 'admin', dir: '/etc/tails-launch' },
    { name: 'user', dir: join(configHome, 'tails-launch') },
  ];
}
