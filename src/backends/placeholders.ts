// The words an own-setting profile's `proxy` templates may hold
// ({socks.port}, ...): the own-setting backend's rule, which fills them in
// (own-setting.ts); profile/lint.ts and resolve.ts check them when a profile
// is read.

/** The placeholders a `proxy` template may hold. */
export const PLACEHOLDERS = [
  'socks.address',
  'socks.host',
  'socks.port',
  'socks.username',
  'socks.password',
  'socks.userinfo',
  'socks.url',
  // A control listener (kind: control): where the program finds Tor's control port (onion-grater's, on Tails).
  'control.address',
  'control.port',
] as const;
/** The placeholders of a control listener; the others are a SocksPort's. */
export const CONTROL_PLACEHOLDERS: readonly Placeholder[] = ['control.address', 'control.port'];
export type Placeholder = (typeof PLACEHOLDERS)[number];
/** Placeholders that hand the program the launcher's credentials. */
export const CREDENTIAL_PLACEHOLDERS: readonly Placeholder[] = [
  'socks.username',
  'socks.password',
  'socks.userinfo',
  'socks.url',
];

export const PLACEHOLDER = /\{([a-z.]+)\}/g;

/** The placeholders TEMPLATE uses, and any unknown `{name}` in it. */
export function placeholdersIn(template: string): { known: Placeholder[]; unknown: string[] } {
  const known: Placeholder[] = [];
  const unknown: string[] = [];
  for (const [, name] of template.matchAll(PLACEHOLDER)) {
    if ((PLACEHOLDERS as readonly string[]).includes(name!)) known.push(name as Placeholder);
    else unknown.push(name!);
  }
  return { known, unknown };
}
