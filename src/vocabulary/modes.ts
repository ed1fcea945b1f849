// The words every stage shares: the isolation modes and the backends (what
// a profile may name, what the plan and Tor's view are made of). Below every
// stage that uses them, as errors/ is.

/**
 * Isolation modes, see src/isolation/credentials.ts. `application`: the
 * application's own settings decide what credentials Tor sees (an
 * own-setting program that cannot be handed credentials per launch).
 */
export const ISOLATION_MODES = ['app', 'launch', 'process', 'none', 'application'] as const;
export type IsolationMode = (typeof ISOLATION_MODES)[number];

/**
 * Backends: each one a way of sending an application through Tor, one per
 * kind of application. None bypasses it.
 *  - torsocks, proxychains: UNAWARE programs, carried by an LD_PRELOAD library;
 *  - env: ENVIRONMENT-AWARE programs, told by the proxy variables;
 *  - own-setting: programs that connect to their listener THEMSELVES, from
 *    their own settings, handed to them per launch through `proxy`.
 */
export const BACKEND_NAMES = ['torsocks', 'env', 'proxychains', 'own-setting'] as const;

/**
 * Known weaknesses a profile must acknowledge before it may use them:
 * `udp-leak` for proxychains-ng, which lets UDP through and cannot catch
 * static or Go binaries.
 */
export const ACKNOWLEDGEMENTS = ['udp-leak'] as const;
export type BackendName = (typeof BACKEND_NAMES)[number];
