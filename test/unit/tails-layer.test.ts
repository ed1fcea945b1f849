// Tails' /etc (profiles/tails/etc/, installed as /usr/share/tails-launch/
// tails/etc/ for Tails' image build to copy to /etc). Its admin layer
// (etc/tails-launch), read above the shipped layer as the launcher reads
// /etc/tails-launch: every profile still resolves, the host firewall Tails'
// ferm is declared, and it changes the shipped profiles only where Tails
// differs from Debian.
import { readdirSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { loadHostFirewall, loadListeners } from '../../src/profile/load';
import { resolveProfile } from '../../src/profile/resolve';
import type { Layer } from '../../src/profile/layers';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));
const SHIPPED: Layer[] = [{ name: 'shipped', dir: ROOT }];
const ADMIN = join(ROOT, 'profiles', 'tails', 'etc', 'tails-launch');
const ON_TAILS: Layer[] = [...SHIPPED, { name: 'admin', dir: ADMIN }];
const names = (dir: string) =>
  readdirSync(dir)
    .filter((f) => f.endsWith('.yml'))
    .map((f) => f.slice(0, -4))
    .sort();

describe("Tails' admin layer (profiles/tails/etc/tails-launch)", () => {
  it("declares Tails' ferm for amnesia and the service accounts", async () => {
    expect(await loadHostFirewall(SHIPPED)).toBeNull();
    expect((await loadHostFirewall(ON_TAILS))?.users).toEqual([
      'amnesia',
      '_apt',
      'htp',
      'tails-upgrade-frontend',
      'tails-iuk-get-target-file',
    ]);
  });

  it('every shipped profile resolves under it, and only its own profiles differ', async () => {
    const own = new Set(names(join(ADMIN, 'profiles')));
    expect(
      [...own].every((n) => names(join(ROOT, 'profiles')).includes(n)),
      'it only adjusts shipped profiles',
    ).toBe(true);
    for (const name of names(join(ROOT, 'profiles'))) {
      const debian = await resolveProfile(SHIPPED, await loadListeners(SHIPPED), name);
      const tails = await resolveProfile(ON_TAILS, await loadListeners(ON_TAILS), name);
      if (!own.has(name)) expect(tails, name).toEqual(debian);
    }
  });

  it('htpdate, started as root by systemd, connects as htp: the account Tails declares held', async () => {
    const htpdate = await resolveProfile(ON_TAILS, await loadListeners(ON_TAILS), 'htpdate');
    expect(htpdate.connectsAs).toBe('htp');
    expect((await loadHostFirewall(ON_TAILS))?.users).toContain(htpdate.connectsAs);
    expect((await loadHostFirewall(ON_TAILS))?.users).not.toContain('root');
  });

  it("wget: the binary Tails' hook diverted (its /usr/bin/wget is Tails' own wrapper)", async () => {
    const debian = await resolveProfile(SHIPPED, await loadListeners(SHIPPED), 'wget');
    const tails = await resolveProfile(ON_TAILS, await loadListeners(ON_TAILS), 'wget');
    expect([debian.command, tails.command]).toEqual(['/usr/bin/wget', '/usr/lib/wget/wget']);
    const rest = (p: typeof debian) => [p.args, p.backend, p.isolation, p.listener, p.env];
    expect(rest(tails)).toEqual(rest(debian));
  });
});
