// The grants: who may have the privileged entry start which profile, with
// which arguments, where and as whom. Pure: resolved profiles in, text out.
//
// `tails-launch grants --write` (root) writes them into ONE file, the
// sudoers drop-in /etc/sudoers.d/tails-launch: each profile's grant as a
// comment line the entry reads (src/place/place.c), followed by the sudoers
// rules made from it. sudo and the entry therefore read one file and cannot
// disagree, as Tails 7 generates its sudoers from one description
// (generate-sudoers.d). The group tails-launch alone grants nothing: a
// profile names its callers (`callers:`), the jails section names who may
// have jails made (`jails: callers:`).
//
// A grant line, one per profile, fields space-separated, values
// percent-encoded (lists comma-separated, one_of's items '+'-separated):
//   #tails-launch-grant 1 profile=NAME command=PATH user=NAME|- netns=NAME|-
//     jail=no|always|optional isolation=MODE callers=LIST|*|- args=RULE
//     keep=LIST|* identity=yes|no pool=CIDR|- connect=IP:PORT|-
//     jailsocks=IP:PORT|- jailcallers=LIST|-
import type { ResolvedProfile } from '../profile/resolve';
import type { CallerArgs, JailsConfig } from '../profile/schema';
import { isPlacementAllowed, PLACEMENT_ENV_NAMES, PLACEMENT_ENV_PATTERNS } from './environment';

export const GRANT_MARK = '#tails-launch-grant 1 ';

/** Bytes a grant value keeps as they are; everything else is %XX (so a value never holds a space, ',' or '+'). */
function encode(value: string): string {
  return [...Buffer.from(value)]
    .map((b) =>
      /[A-Za-z0-9._/@:-]/.test(String.fromCharCode(b)) ? String.fromCharCode(b) : `%${b.toString(16).padStart(2, '0')}`,
    )
    .join('');
}

const list = (items: readonly string[] | null, empty: string) =>
  items === null || items.length === 0 ? empty : items.map(encode).join(',');

function argsRule(rule: CallerArgs): string {
  if (typeof rule === 'string') return rule;
  if ('one_of' in rule) return `one-of:${rule.one_of.map((l) => l.map(encode).join('+')).join(',')}`;
  return `options:${rule.options.map(encode).join(',')}`;
}

/** How the entry may jail PROFILE: always (jail: true), on request (--jail, where jails are set up), or never. */
export function jailMode(profile: ResolvedProfile, jails: JailsConfig | null): 'no' | 'always' | 'optional' {
  if (profile.jail) return 'always';
  const possible = jails !== null && profile.listener.jailPort !== null && profile.placement.netns === null;
  return possible && profile.command !== null ? 'optional' : 'no';
}

/** Whether the profile runs elsewhere or as someone else: then only its named callers (and root) may start it. */
export function isPlaced(profile: ResolvedProfile): boolean {
  return profile.placement.netns !== null || profile.placement.user !== null || profile.jail;
}

/** Who may start PROFILE: its `callers`, else anyone for an unplaced profile, root only for a placed one. */
export function callersOf(profile: ResolvedProfile): string[] | '*' {
  return profile.callers ?? (isPlaced(profile) ? [] : '*');
}

/** The variables the entry passes on: the allow-list, narrowed by the profile's env.keep. */
export function keptNames(profile: ResolvedProfile): string[] | '*' {
  return profile.env.keep === null ? '*' : profile.env.keep.filter(isPlacementAllowed);
}

/**
 * PROFILE's grant line, or null when the entry never runs it (no command of
 * its own, nothing to place or jail). ROOT: the grant of one launch of root's
 * own (handed to the entry in a memfd): jailed or not as asked, whatever the
 * command.
 */
export function grantLine(
  profile: ResolvedProfile,
  jails: JailsConfig | null,
  root?: { jailed: boolean },
): string | null {
  const jail = root ? (root.jailed ? 'always' : 'no') : jailMode(profile, jails);
  if (!root && (profile.command === null || (!isPlaced(profile) && jail === 'no'))) return null;
  const callers = callersOf(profile);
  const keep = keptNames(profile);
  const l = profile.listener;
  const jailed = jail !== 'no';
  const fields: [string, string][] = [
    ['profile', profile.name],
    ['command', profile.command === null ? '-' : encode(profile.command)],
    ['user', profile.placement.user ?? '-'],
    ['netns', profile.placement.netns ?? '-'],
    ['jail', jail],
    ['isolation', profile.isolation],
    ['callers', callers === '*' ? '*' : list(callers, '-')],
    ['args', argsRule(profile.callerArgs)],
    ['keep', keep === '*' ? '*' : list(keep, '')],
    ['identity', jailed || !['none', 'application'].includes(profile.isolation) ? 'yes' : 'no'],
    ['pool', jailed && jails ? jails.pool : '-'],
    ['connect', jailed ? `${l.connect.address}:${l.connect.port}` : '-'],
    ['jailsocks', jailed && l.jailPort !== null ? `${l.address}:${l.jailPort}` : '-'],
    ['jailcallers', jail === 'optional' ? list(jails?.callers ?? null, '-') : '-'],
  ];
  return GRANT_MARK + fields.map(([k, v]) => `${k}=${v}`).join(' ');
}

/** A command-line argument as sudoers matches it: its special characters escaped; whitespace cannot be, so it matches anything. */
function sudoersArg(arg: string): string {
  if (/\s/.test(arg) || arg === '') return '*';
  return arg.replace(/[\\,:=()"#*?[\]!]/g, (c) => `\\${c}`);
}

/** The command lines sudo allows for PROFILE, with OPTIONS (--jail, --identity) before the separator. */
function commandLines(entry: string, profile: ResolvedProfile, options: string): string[] {
  const base = `${entry} ${profile.name}${options} --`;
  const rule = profile.callerArgs;
  if (rule === 'none') return [base];
  if (typeof rule === 'object' && 'one_of' in rule)
    return rule.one_of.map((l) => [base, ...l.map(sudoersArg)].join(' '));
  return [base, `${base} *`];
}

function envKeep(profile: ResolvedProfile): string {
  const keep = keptNames(profile);
  return (keep === '*' ? [...PLACEMENT_ENV_NAMES, ...PLACEMENT_ENV_PATTERNS] : keep).join(' ');
}

/** The sudoers rules of one grant: an alias per caller set, env_reset and the profile's env_keep on each. */
function sudoersRules(entry: string, profile: ResolvedProfile, jails: JailsConfig | null, index: number): string[] {
  const jail = jailMode(profile, jails);
  const identity = grantLine(profile, jails)!.includes(' identity=yes ');
  const variants = (jailed: boolean) => {
    const prefix = jailed && jail === 'optional' ? ' --jail' : '';
    return [
      ...commandLines(entry, profile, prefix),
      ...(identity ? commandLines(entry, profile, `${prefix} --identity *`) : []),
    ];
  };
  const sets: { who: string[]; lines: string[] }[] = [];
  const callers = callersOf(profile);
  if (callers !== '*' && callers.length > 0) sets.push({ who: callers, lines: variants(false) });
  if (jail === 'optional' && jails?.callers?.length) sets.push({ who: jails.callers, lines: variants(true) });
  return sets.flatMap(({ who, lines }, n) => {
    const alias = `TAILS_LAUNCH_${index}_${n}`;
    return [
      `Cmnd_Alias ${alias} = ${lines.join(', \\\n\t')}`,
      `Defaults!${alias} env_reset`,
      `Defaults!${alias} env_keep = "${envKeep(profile)}"`,
      `${who.join(', ')} ALL = (root) NOPASSWD: ${alias}`,
    ];
  });
}

/** The whole drop-in: a header, then per profile its grant line and the rules made from it. */
export function sudoersDropIn(
  entry: string,
  profiles: ResolvedProfile[],
  jails: JailsConfig | null,
  from: string[],
): string {
  const out = [
    '# tails-launch: who may start which profile through the privileged entry.',
    `# Generated by 'tails-launch grants --write' from ${from.join(' and ')}: do not edit.`,
    '# The #tails-launch-grant lines are the grants the entry itself reads; the',
    '# rules below each are what sudo makes of the same grant.',
  ];
  let index = 0;
  for (const profile of [...profiles].sort((a, b) => a.name.localeCompare(b.name))) {
    const line = grantLine(profile, jails);
    if (line === null) continue;
    out.push('', `# ${profile.name}${profile.description ? `: ${profile.description.replace(/\s+/g, ' ')}` : ''}`);
    out.push(line, ...sudoersRules(entry, profile, jails, index++));
  }
  return `${out.join('\n')}\n`;
}
