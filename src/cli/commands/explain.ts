import type { CallerState } from '../../exec/caller-state';
import { isExecveAvailable } from '../../exec/execve';
import type { Check, Plan } from '../../plan/types';
import { hostPort } from '../../tor/address';
import { escapeControl } from '../../errors/escape-control';
import { writeAll } from '../output';
import type { Command } from '../parse-args';
import { planLaunch } from '../plan-launch';

/** Quotes a word for a POSIX shell only when it needs it, so argv reads as a command line. */
export function shellQuote(word: string): string {
  return /^[A-Za-z0-9_@%+=:,./-]+$/.test(word) ? word : `'${word.replace(/'/g, `'\\''`)}'`;
}

function describeCheck(check: Check): string {
  switch (check.kind) {
    case 'placement': {
      if (check.problem) return `REFUSED  ${check.problem.message}`;
      const where = [
        check.netns && `enters network namespace ${check.netns}`,
        check.account
          ? `becomes ${check.account.name} (uid ${check.account.uid}, gid ${check.account.gid}, groups ${check.account.groups.join(',')})`
          : 'keeps its user',
      ];
      return `at run   the privileged entry ${where.filter(Boolean).join(' and ')}; the checks below run there, as that user, in a process of their own`;
    }
    case 'jail':
      if (check.problem || check.jail === null) return `REFUSED  ${check.problem ?? 'cannot be jailed'}`;
      return `at run   a jail is made (pool ${check.jail.pool}, group ${check.jail.group.address}, ${check.jail.group.kind}): inside, ${check.jail.connect.address}:${check.jail.connect.port} leads to ${check.jail.socksPort.address}:${check.jail.socksPort.port} through the host end, nothing else; the checks below run inside${check.dropCapabilities ? '; the application keeps uid 0 but no capability' : ''}`;
    case 'handover':
      return check.sudo === null
        ? `at run   root runs the privileged entry ${check.entry} itself, with this plan's grant`
        : `at run   ${check.sudo} -n permits ${check.entry} for this profile and these arguments (its grant in /etc/sudoers.d/tails-launch, no password)`;
    case 'preloadable':
      return check.verdict.ok
        ? `at run   ${check.path ?? 'the application'} leads to a program that is not static, Go, setuid/setgid or file-capable (an LD_PRELOAD wrapper must see its connections); it runs exactly as checked`
        : `REFUSED  ${check.verdict.detail}`;
    case 'exec-method':
      return `at run   koffi loads (needed to check file capabilities and to execute exactly the checked file)`;
    case 'library':
      return `at run   ${check.wrapper}'s library ${check.path} is installed, root's, writable by nobody else`;
    case 'runtime-files':
      return check.dir === null
        ? 'REFUSED  $XDG_RUNTIME_DIR is not set: nowhere private to hand the configuration over'
        : `at run   files written under ${check.dir}/tails-launch/`;
    case 'sandbox':
      return `at run   ${check.helper} and ${check.bwrap} are installed, root's${check.create.length ? `; made if missing (0700): ${check.create.join(', ')}` : ''}; the helper makes the jail${check.rundir ? ` (proxy sockets in ${check.rundir})` : ''}`;
    case 'control':
      return `at run   PROTOCOLINFO answered on ${check.address}:${check.port} (nothing else is sent), ${check.timeoutMs / 1000} s timeout${check.waitSeconds ? `, waiting up to ${check.waitSeconds} s for Tor` : ''}`;
    case 'socks5':
      return `at run   SOCKS5 handshake (${check.auth}) with ${check.address}:${check.port}, ${check.timeoutMs / 1000} s timeout${check.waitSeconds ? `, waiting up to ${check.waitSeconds} s for Tor` : ''}`;
    default: {
      const state = check.status === 'ok' ? 'ok      ' : check.status === 'not-found' ? 'MISSING ' : 'BROKEN  ';
      const where = check.status === 'ok' ? ` -> ${check.path}` : check.path ? ` at ${check.path}` : ' on PATH';
      return `${state} ${check.kind} '${check.name}'${where}${check.status === 'not-found' ? ' not found' : ''}${check.reason ? ` (${check.reason})` : ''}`;
    }
  }
}

/** Where Tor sees a jail's connections come from. */
function jailFrom(plan: Plan): string {
  const from = plan.torSees.clientAddress;
  if (from === null) return '';
  return plan.guard.by === 'user'
    ? `, from ${from}: the user jail's forwarder, as every user jail (only credentials tell launches apart)`
    : `'s jail port, from client address ${from}: the jail's group`;
}

/** Where a section writes: a labelled line, or a line of its own. */
interface Writer {
  add(label: string, value: string): void;
  line(text: string): void;
}

/** The profile, its files, and which layer set each field (a user-layer line is visible at a glance). */
function profileSection(plan: Plan, { add }: Writer): void {
  add('profile', `${plan.profile.name}${plan.profile.description ? ` - ${plan.profile.description}` : ''}`);
  plan.profile.sources.forEach((source, i) => add(i === 0 ? 'defined in' : '  extends', source));
  // Which layer set each field: a user-layer line is visible at a glance.
  const fields = Object.entries(plan.profile.fieldSources);
  const width = Math.max(0, ...fields.map(([field]) => field.length));
  const layerWidth = Math.max(0, ...fields.map(([, source]) => source.layer.length));
  fields.forEach(([field, source], i) =>
    add(i === 0 ? 'set by' : '', `${field.padEnd(width)}  ${source.layer.padEnd(layerWidth)}  ${source.file}`),
  );
}

/** The listener, the isolation group, what Tor sees, the control filter and the backend. */
function torSection(plan: Plan, { add }: Writer): void {
  const l = plan.listener;
  add(
    'listener',
    `${l.name}${l.kind === 'control' ? ' (control port)' : ''}: ${l.address}:${l.port}${l.flags.length ? ` [${l.flags.join(' ')}]` : ''}${l.netns ? ` in netns ${l.netns}` : ''}`,
  );
  if (l.connect.address !== l.address || l.connect.port !== l.port)
    add('  reached as', `${l.connect.address}:${l.connect.port}`);
  add('  from', `${l.source} (${l.layer})`);
  const s = plan.isolation.socks;
  const socks =
    s.auth === 'userpass'
      ? `SOCKS5 username ${s.username}, password ${s.password}${s.perLaunch ? ' (random per launch)' : ''}`
      : s.auth === 'per-process' || s.auth === 'application'
        ? s.description
        : 'no SOCKS authentication (streams may share circuits)';
  add(
    'isolation',
    `${plan.isolation.mode}${plan.identity ? `, identity ${plan.identity}` : ''}: ${l.kind === 'control' ? 'no SOCKS session, nothing to isolate' : socks}`,
  );
  const t = plan.torSees;
  const seen =
    t.credentials.kind === 'userpass'
      ? `username ${t.credentials.username}, password ${t.credentials.password}`
      : t.credentials.kind === 'none'
        ? 'no credentials'
        : t.credentials.description;
  add(
    'Tor sees',
    t.credentials.kind === 'control'
      ? `on ${hostPort(t.address, t.port)} (${t.listener}): ${seen}`
      : `on ${hostPort(t.address, t.port)} (${t.listener}${jailFrom(plan)}): ${seen}; sent by ${t.carriedBy}`,
  );
  const c = plan.controlFilter;
  add(
    'control',
    c === null
      ? 'no onion-grater filter (on Tails: nothing of the control port)'
      : `onion-grater filter for ${c.hosts.join(', ')}: ${c.allows}`,
  );
  add('backend', plan.backend);
}

/** What holds the launch, and where it runs. */
function guardSection(plan: Plan, { add }: Writer): void {
  const g = plan.guard;
  add('guard', `${g.kind}: ${g.description}`);
  add('  holds', g.holds);
  add('  misses', g.misses);
  if (plan.sandbox) for (const [i, grant] of plan.sandbox.grants.entries()) add(i === 0 ? '  reaches' : '', grant);
  const p = plan.placement;
  if (p.via !== null) {
    const as = p.account ? `user ${p.account.name} (uid ${p.account.uid})` : p.user ? `user ${p.user} (missing)` : null;
    add(
      'placement',
      [
        p.netns && `netns ${p.netns}`,
        as,
        p.via === 'sudo' ? 'through sudo and the privileged entry' : 'by the privileged entry, which root runs itself',
      ]
        .filter(Boolean)
        .join(', '),
    );
  }
  if (plan.jail) {
    const j = plan.jail;
    add(
      'jail',
      `a network namespace for this launch, group ${j.group.address} (${j.group.kind}${j.group.kind === 'launch' ? ': fresh for this launch' : `, up to ${j.slots} at once`}) from pool ${j.pool}`,
    );
    add(
      '  reaches',
      `${j.connect.address}:${j.connect.port} -> the jails' SocksPort ${j.socksPort.address}:${j.socksPort.port}; nothing else (no other TCP, no UDP, no IPv6)`,
    );
    if (j.collision) add('  shared', j.collision);
  }
}

/** The hand-over to the privileged entry, and the exec. */
function execSection(plan: Plan, { add, line }: Writer): void {
  if (plan.handover) {
    add('handover', plan.handover.argv.map(shellQuote).join(' '));
    add('  passes', Object.keys(plan.handover.env).join(' ') || '(no variables)');
    line('then, in the privileged entry:');
  }
  const m = plan.exec.method;
  add(
    'exec',
    m.method === 'execve'
      ? 'execve through koffi: tails-launch is replaced, no process stays'
      : `spawn and wait (${m.reason})`,
  );
  add('  file', plan.exec.file ?? '(not found)');
  add('  argv', plan.exec.argv.map(shellQuote).join(' '));
  if (plan.exec.chain.length > 1) add('  through', plan.exec.chain.join(' -> '));
  if (plan.exec.preload) add('  preload', plan.exec.preload);
  add('  fds', plan.fds.join(' '));
}

/** The environment, and the files handed over. */
function environmentSection(plan: Plan, { add, line }: Writer): void {
  line('environment');
  for (const [name, value] of Object.entries(plan.env.set)) add('  set', `${name}=${shellQuote(value)}`);
  for (const name of plan.env.removed) add('  removed', name);
  for (const name of plan.env.replaced) add('  replaced', `${name} (inherited value overridden)`);
  add('  scrubbed', plan.env.scrubPolicy.join(', '));
  for (const file of plan.files) {
    line(
      `file ${file.path ?? '(needs XDG_RUNTIME_DIR)'}: read-only, written at exec, ${file.variable} names it (secrets masked)`,
    );
    for (const text of file.content.trimEnd().split('\n')) line(`  | ${text}`);
  }
}

/** The checks, and the notes. */
function checksSection(plan: Plan, { line }: Writer): void {
  line('checks');
  for (const check of plan.checks) line(`  ${describeCheck(check)}`);
  if (plan.notes.length) {
    line('notes');
    for (const note of plan.notes) line(`  - ${note}`);
  }
}

export function formatPlan(plan: Plan): string {
  const lines: string[] = [];
  const writer: Writer = {
    // A label as wide as the column still gets its space (`  reached as 127.0.0.1:9050`).
    add: (label, value) => lines.push(`${label.padEnd(11)} ${value}`),
    line: (text) => lines.push(text),
  };
  for (const section of [profileSection, torSection, guardSection, execSection, environmentSection, checksSection])
    section(plan, writer);
  // Descriptions, arguments and variables come from files and the caller: one line each, no terminal escapes.
  return `${lines.map(escapeControl).join('\n')}\n`;
}

export async function explain(command: Extract<Command, { kind: 'explain' }>, caller: CallerState): Promise<number> {
  const { plan } = await planLaunch(command, caller, isExecveAvailable());
  writeAll(1, command.json ? `${JSON.stringify(plan, null, 2)}\n` : formatPlan(plan));
  return 0;
}
