// Placement's pure rules: who a placed application runs as, how the
// placement is applied, what refuses it; and the allow-listed environment,
// which the shipped sudoers drop-in must keep exactly.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import type { Account } from '../../src/placement/account';
import { ENTRY_PATH, PLACEMENT_GROUP, SUDO_PATH } from '../../src/placement/constants';
import { decidePlacement, type PlacementContext } from '../../src/placement/decide';
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

  it('an unprivileged caller goes through sudo; root applies it itself', () => {
    const placement = { netns: 'tbb', user: 'amnesia' };
    expect(decide({ placement, named: AMNESIA })).toMatchObject({ via: 'sudo', account: AMNESIA, problem: null });
    expect(decide({ placement, named: AMNESIA, uid: 0, caller: null })).toMatchObject({
      via: 'self',
      account: AMNESIA,
      problem: null,
    });
  });

  it('a namespace alone keeps the caller (through the entry: sudo caller), and root keeps root', () => {
    const placement = { netns: 'tbb', user: null };
    expect(decide({ placement })).toMatchObject({ via: 'sudo', account: AMNESIA });
    expect(decide({ placement, uid: 0, entryCaller: 1000 })).toMatchObject({ via: 'self', account: AMNESIA });
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

describe('the shipped sudoers drop-in and entry agree with the code', () => {
  const sudoers = readFileSync(join(ROOT, 'debian/tails-launch.sudoers'), 'utf8');
  const place = readFileSync(join(ROOT, 'debian/place'), 'utf8');

  it('keeps exactly the allow-list through sudo', () => {
    const keep = /^Defaults!TAILS_LAUNCH_PLACE env_keep = "([^"]*)"$/m.exec(sudoers);
    expect(keep).not.toBeNull();
    expect(keep![1]!.split(' ').sort()).toEqual([...PLACEMENT_ENV_NAMES, ...PLACEMENT_ENV_PATTERNS].sort());
    expect(sudoers).toMatch(/^Defaults!TAILS_LAUNCH_PLACE env_reset$/m);
  });

  it('allows exactly the entry, to the group, as root, without a password', () => {
    expect(sudoers).toContain(`Cmnd_Alias TAILS_LAUNCH_PLACE = ${ENTRY_PATH}\n`);
    expect(sudoers).toMatch(new RegExp(`^%${PLACEMENT_GROUP} ALL = \\(root\\) NOPASSWD: TAILS_LAUNCH_PLACE$`, 'm'));
    expect(SUDO_PATH).toBe('/usr/bin/sudo');
  });

  it('the entry runs Debian node on the bundle beside it, by fixed paths', () => {
    expect(ENTRY_PATH).toBe('/usr/lib/tails-launch/place');
    expect(place).toMatch(/^exec \/usr\/bin\/node \/usr\/lib\/tails-launch\/dist\/place\.mjs "\$@"$/m);
  });
});
