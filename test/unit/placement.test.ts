// Placement's pure rules: who a placed application runs as, how the
// placement is applied, what refuses it; the allow-listed environment, which
// the privileged entry (C) keeps too; and the grants made from the shipped
// profiles, which must say what Tails 7's sudoers says.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import type { Account } from '../../src/placement/account';
import { PACKAGE_ENTRY_PATH, SUDO_PATH } from '../../src/placement/constants';
import { decidePlacement, type PlacementContext } from '../../src/placement/decide';
import { GRANT_MARK, grantLine, sudoersDropIn } from '../../src/placement/grants';
import { callerArgsProblem, isCaller } from '../../src/profile/caller-args';
import { listProfiles, loadListeners } from '../../src/profile/load';
import { resolveProfile, type ResolvedProfile } from '../../src/profile/resolve';
import {
  accountVariables,
  allowedForPlacement,
  PLACEMENT_ENV_NAMES,
  PLACEMENT_ENV_PATTERNS,
} from '../../src/placement/environment';
import { EXIT } from '../support/expected';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));

const account = (name: string, uid: number): Account => ({
  name,
  uid,
  gid: uid,
  groups: [uid],
  home: `/home/${name}`,
  shell: '/bin/sh',
});
const AMNESIA = account('amnesia', 1000);
const BOB = account('bob', 1001);
const IUK = account('tails-iuk-get-target-file', 990);
const ROOT_ALIAS = account('toor', 0);

function decide(over: Partial<PlacementContext>) {
  return decidePlacement({
    profile: 'p',
    placement: { netns: null, user: null },
    uid: 1000,
    entryCaller: null,
    named: null,
    caller: AMNESIA,
    notPassable: [],
    ...over,
  });
}

describe('decidePlacement', () => {
  it('no placement: nothing to decide', () => {
    expect(decide({})).toBeNull();
  });

  it('an unprivileged caller goes through sudo; root hands it to the entry itself; in the entry it is applied', () => {
    const placement = { netns: 'tbb', user: 'amnesia' };
    expect(decide({ placement, named: AMNESIA })).toMatchObject({ via: 'sudo', account: AMNESIA, problem: null });
    expect(decide({ placement, named: AMNESIA, uid: 0, caller: null })).toMatchObject({
      via: 'self',
      account: AMNESIA,
      problem: null,
    });
    expect(decide({ placement, named: AMNESIA, uid: 1000, entryCaller: 1000 })).toMatchObject({
      via: 'applied',
      account: AMNESIA,
      problem: null,
    });
  });

  it('a namespace alone keeps the caller (through the entry: sudo caller), and root keeps root', () => {
    const placement = { netns: 'tbb', user: null };
    expect(decide({ placement })).toMatchObject({ via: 'sudo', account: AMNESIA });
    expect(decide({ placement, uid: 1000, entryCaller: 1000 })).toMatchObject({ via: 'applied', account: AMNESIA });
    expect(decide({ placement, uid: 0, caller: null })).toMatchObject({ via: 'self', account: null, problem: null });
  });

  it('refuses a user that does not exist (67)', () => {
    const d = decide({ placement: { netns: null, user: 'ghost' }, named: null });
    expect(d?.problem?.status).toBe(EXIT.noUser);
    expect(d?.problem?.message).toContain("'ghost'");
  });

  it('never runs as root for another user, nor as another person; a service user is fine', () => {
    const asRoot = decide({ placement: { netns: null, user: 'toor' }, named: ROOT_ALIAS });
    expect(asRoot?.problem?.status).toBe(EXIT.refused);
    const asAmnesia = decide({ placement: { netns: 'tbb', user: 'amnesia' }, named: AMNESIA, caller: BOB, uid: 1001 });
    expect(asAmnesia?.problem).toMatchObject({ status: EXIT.refused });
    expect(asAmnesia?.problem?.message).toContain("only 'amnesia'");
    // The same through the entry: sudo's caller counts, not root.
    const viaEntry = decide({
      placement: { netns: 'tbb', user: 'amnesia' },
      named: AMNESIA,
      caller: BOB,
      uid: 0,
      entryCaller: 1001,
    });
    expect(viaEntry?.problem?.status).toBe(EXIT.refused);
    expect(decide({ placement: { netns: null, user: IUK.name }, named: IUK })?.problem).toBeNull();
    // Root launching for itself may do what it likes.
    expect(
      decide({ placement: { netns: null, user: 'amnesia' }, named: AMNESIA, uid: 0, caller: null })?.problem,
    ).toBeNull();
  });

  it('refuses what the entry would not see (options, --config-dir, the user layer), only on the way through sudo', () => {
    const placement = { netns: null, user: IUK.name };
    const d = decide({ placement, named: IUK, notPassable: ['--identity is not passed on'] });
    expect(d?.problem?.status).toBe(EXIT.refused);
    expect(d?.problem?.message).toContain('--identity');
    expect(decide({ placement, named: IUK, uid: 0, notPassable: ['--identity is not passed on'] })?.problem).toBeNull();
  });
});

describe('the placed environment', () => {
  it('keeps only the allow-list (and LC_*), never code loaders or proxies', () => {
    const env = {
      DISPLAY: ':0',
      LC_TIME: 'C',
      LANG: 'C.UTF-8',
      LD_PRELOAD: '/x.so',
      GTK_MODULES: '/tmp/evil',
      NODE_OPTIONS: '--require /tmp/x',
      http_proxy: 'http://x',
      HOME: '/home/bob',
      PATH: '/tmp/bin',
      LC_: 'x',
    };
    expect(allowedForPlacement(env)).toEqual({ DISPLAY: ':0', LC_TIME: 'C', LANG: 'C.UTF-8' });
  });

  it("gives the account's HOME, USER, LOGNAME, SHELL and a fixed PATH", () => {
    expect(accountVariables(IUK)).toEqual({
      HOME: '/home/tails-iuk-get-target-file',
      LOGNAME: 'tails-iuk-get-target-file',
      PATH: '/usr/local/bin:/usr/bin:/bin',
      SHELL: '/bin/sh',
      USER: 'tails-iuk-get-target-file',
    });
  });
});

const SHIPPED = [{ name: 'shipped' as const, dir: ROOT }];

async function shipped(): Promise<Map<string, ResolvedProfile>> {
  const listeners = await loadListeners(SHIPPED);
  const out = new Map<string, ResolvedProfile>();
  for (const name of listProfiles(SHIPPED).profiles.keys())
    out.set(name, await resolveProfile(SHIPPED, listeners, name));
  return out;
}

describe('who may pass what (caller_args) and who may start (callers)', () => {
  it('keywords, exact lists, the program’s own options', () => {
    expect(callerArgsProblem('any', ['-x'])).toBeNull();
    expect(callerArgsProblem('none', ['x'])).toMatch(/no arguments/);
    expect(callerArgsProblem('non-options', ['https://x/', '-P'])).toMatch(/'-P'/);
    const oneOf = { one_of: [[], ['--report-no-upgrade']] };
    expect(callerArgsProblem(oneOf, [])).toBeNull();
    expect(callerArgsProblem(oneOf, ['--report-no-upgrade'])).toBeNull();
    expect(callerArgsProblem(oneOf, ['--report-no-upgrade', 'x'])).toMatch(/only these argument lists/);
    const options = { options: ['--uri', '--size'] };
    expect(callerArgsProblem(options, ['--uri', 'u', '--size', '1'])).toBeNull();
    for (const bad of [['--uri'], ['--uri', 'a', '--uri', 'b'], ['--uri', '--size'], ['--evil', 'x'], ['x']])
      expect(callerArgsProblem(options, bad), bad.join(' ')).toMatch(/its program's own options/);
  });

  it('users and %groups; root always', () => {
    expect(isCaller(['amnesia'], 'amnesia', 1000, [])).toBe(true);
    expect(isCaller(['amnesia'], 'bob', 1001, ['amnesia'])).toBe(false);
    expect(isCaller(['%tails-launch'], 'bob', 1001, ['tails-launch'])).toBe(true);
    expect(isCaller([], 'root', 0, [])).toBe(true);
  });
});

describe("the grants made from the shipped profiles: what Tails 7's sudoers grants (generate-sudoers.d), and no more", () => {
  const entry = PACKAGE_ENTRY_PATH;

  it('one grant per placed profile; htpdate (root only) and unplaced profiles get none', async () => {
    const profiles = await shipped();
    const text = sudoersDropIn(entry, [...profiles.values()], null, [ROOT]);
    const granted = text
      .split('\n')
      .filter((l) => l.startsWith(GRANT_MARK))
      .map((l) => /profile=(\S+)/.exec(l)![1]);
    // Tails' zzz_onioncircuits grants amnesia Onion Circuits. Tor Connection is root's (Tails' tca wrapper
    // runs it after its own sudo): a grant line the entry reads, callers none, so no sudo rule.
    expect(granted.sort()).toEqual([
      'onion-circuits',
      'tails-iuk-get-target-file',
      'tails-upgrade-frontend',
      'tor-browser',
      'tor-connection',
    ]);
    expect(text).toMatch(/^#tails-launch-grant 1 profile=tor-connection .* callers=- /m);
    const block = text.split('\n\n').find((b) => b.includes('profile=tor-connection '))!;
    expect(block).not.toContain('NOPASSWD');
    // No group rule: every rule names the callers of one profile.
    expect(text).not.toMatch(/^%/m);
    const rules = text.split('\n').filter((l) => /NOPASSWD/.test(l));
    expect(rules.map((l) => l.split(' ALL = ')[0]).sort()).toEqual([
      'amnesia',
      'amnesia',
      'amnesia',
      'tails-upgrade-frontend',
    ]);
  });

  it('Tor Browser: amnesia, URLs (any argument for sudo, options refused by the entry)', async () => {
    const text = sudoersDropIn(entry, [(await shipped()).get('tor-browser')!], null, [ROOT]);
    expect(text).toContain(`Cmnd_Alias TAILS_LAUNCH_0_0 = ${entry} tor-browser --, \\\n\t${entry} tor-browser -- *\n`);
    expect(text).toMatch(/^amnesia ALL = \(root\) NOPASSWD: TAILS_LAUNCH_0_0$/m);
    expect(text).toMatch(/ callers=amnesia args=non-options /);
  });

  it('the upgrader: amnesia, with no argument or exactly --report-no-upgrade', async () => {
    const text = sudoersDropIn(entry, [(await shipped()).get('tails-upgrade-frontend')!], null, [ROOT]);
    expect(text).toContain(
      `Cmnd_Alias TAILS_LAUNCH_0_0 = ${entry} tails-upgrade-frontend --, \\\n\t${entry} tails-upgrade-frontend -- --report-no-upgrade\n`,
    );
    expect(text).toMatch(/ args=one-of:,--report-no-upgrade /);
  });

  it("the IUK downloader: the frontend's account only, the downloader's own options", async () => {
    const text = sudoersDropIn(entry, [(await shipped()).get('tails-iuk-get-target-file')!], null, [ROOT]);
    expect(text).toMatch(/^tails-upgrade-frontend ALL = \(root\) NOPASSWD: TAILS_LAUNCH_0_0$/m);
    expect(text).toMatch(/ args=options:--uri,--hash_type,--hash_value,--size,--output_file,/);
    expect(text).toMatch(/^Defaults!TAILS_LAUNCH_0_0 env_keep = "LANG LANGUAGE"$/m);
  });

  it('a jail-able profile names jails: callers for --jail; identity variants only where an identity counts', async () => {
    const profiles = await shipped();
    const jailsConfig = { pool: '10.240.0.0/12', callers: ['%tails-launch'] };
    const withJail = { ...profiles.get('curl')!, listener: { ...profiles.get('curl')!.listener, jailPort: 9250 } };
    const line = grantLine(withJail, jailsConfig)!;
    expect(line).toMatch(/ jail=optional .* callers=\* /);
    expect(line).toMatch(
      / pool=10\.240\.0\.0\/12 connect=127\.0\.0\.1:9050 jailsocks=127\.0\.0\.1:9250 jailcallers=%25tails-launch$/,
    );
    const text = sudoersDropIn(entry, [withJail], jailsConfig, [ROOT]);
    expect(text).toMatch(/^%tails-launch ALL = \(root\) NOPASSWD: TAILS_LAUNCH_0_0$/m);
    expect(text).toContain(`${entry} curl --jail --identity * -- *`);
    // Without jails: curl runs as its caller, nothing to grant.
    expect(grantLine(profiles.get('curl')!, null)).toBeNull();
  });
});

describe('the privileged entry (C) agrees with the code', () => {
  const place = readFileSync(join(ROOT, 'src/place/place.c'), 'utf8');

  it('keeps exactly the allow-list', () => {
    const list = /static const char \*ALLOWED\[\] = \{([^}]*)\}/.exec(place)![1]!;
    const names = [...list.matchAll(/"([A-Z_]+)"/g)].map((m) => m[1]);
    expect(names.sort()).toEqual([...PLACEMENT_ENV_NAMES].sort());
    expect(PLACEMENT_ENV_PATTERNS).toEqual(['LC_*']);
    expect(place).toContain('!strncmp(entry, "LC_", 3)');
  });

  it('reads the grants from the sudoers drop-in, with the same mark', () => {
    expect(place).toContain('#define GRANTS_FILE "/etc/sudoers.d/tails-launch"');
    expect(place).toContain(`#define GRANT_MARK "${GRANT_MARK}"`);
    expect(SUDO_PATH).toBe('/usr/bin/sudo');
    expect(PACKAGE_ENTRY_PATH).toBe('/usr/lib/tails-launch/place');
  });
});
