// Checks of one profile file that a schema cannot express.
import { PLACEHOLDERS, placeholdersIn } from '../backends/placeholders';
import { isReservedForProfiles } from './reserved-env';
import type { SchemaIssue } from './describe-issue';
import type { ProfileFile } from './schema';

function issue(path: PropertyKey[], message: string): SchemaIssue {
  return { code: 'custom', path, message };
}

export function lintProfile(profile: ProfileFile): SchemaIssue[] {
  const issues: SchemaIssue[] = [];
  for (const name of Object.keys(profile.env?.set ?? {})) {
    if (isReservedForProfiles(name)) {
      issues.push(
        issue(
          ['env', 'set', name],
          `may not be set by a profile: the backend owns the proxy and wrapper variables (a profile cannot route around Tor)`,
        ),
      );
    }
  }
  for (const name of Object.keys(profile.proxy?.env ?? {})) {
    // Tor Browser is told its SocksPort by these two (Tails' /usr/bin/tor-browser sets them).
    if (isReservedForProfiles(name) && name !== 'TOR_SOCKS_HOST' && name !== 'TOR_SOCKS_PORT') {
      issues.push(
        issue(
          ['proxy', 'env', name],
          'may not be set: own-setting programs are told their listener by their own settings, never by proxy or wrapper variables',
        ),
      );
    }
  }
  const templates = [
    ...(profile.proxy?.args ?? []).map((t, i) => [['proxy', 'args', i], t] as const),
    ...Object.entries(profile.proxy?.env ?? {}).map(([n, t]) => [['proxy', 'env', n], t] as const),
  ];
  for (const [path, template] of templates) {
    const unknown = placeholdersIn(template).unknown;
    if (unknown.length)
      issues.push(
        issue(
          [...path],
          `unknown placeholder {${unknown[0]}} (known: ${PLACEHOLDERS.map((p) => `{${p}}`).join(', ')})`,
        ),
      );
  }
  const command = profile.command;
  if (command !== undefined && command.includes('/') && !command.startsWith('/')) {
    issues.push(issue(['command'], 'must be an absolute path or a plain name looked up on PATH'));
  }
  return issues;
}
