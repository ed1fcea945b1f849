// Git over SSH under the shipped `git` profile. Tails' ssh_config sends ssh
// through `ProxyCommand /bin/nc -X 5 -x 127.0.0.1:9050 %h %p`, and Tails sets
// AllowOutboundLocalhost 2 in torsocks.conf so that nc may reach Tor from
// inside `torsocks git`. Our torsocks refuses loopback, so the profile tells
// the ssh git starts `-o ProxyCommand=none` (GIT_SSH_COMMAND): ssh then stays
// under torsocks and its connection reaches Tor like git's own.
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { useSocks5Server, useTempDirs } from '../support/fixtures';
import { cleanEnv, makeConfigDir, ROOT, runLauncher } from '../support/launcher';

const socks = useSocks5Server();
const { make: tempDir, track } = useTempDirs();

/**
 * An environment whose `ssh` reads a configuration that does what Tails'
 * /etc/ssh/ssh_config does (ssh reads ~/.ssh/config from the passwd entry's
 * home, not $HOME: so an `ssh` first on PATH that adds `-F`, as git finds ssh
 * on PATH).
 */
function tailsLikeSsh(): Record<string, string> {
  const dir = tempDir('tails-ssh');
  writeFileSync(
    join(dir, 'ssh_config'),
    'Host *\n  ProxyCommand /usr/bin/nc -X 5 -x 127.0.0.1:9050 %h %p\n  BatchMode yes\n  StrictHostKeyChecking no\n  ConnectTimeout 5\n',
  );
  mkdirSync(join(dir, 'bin'));
  writeFileSync(join(dir, 'bin', 'ssh'), `#!/bin/sh\nexec /usr/bin/ssh -F ${join(dir, 'ssh_config')} "$@"\n`, {
    mode: 0o755,
  });
  return cleanEnv({ HOME: dir, PATH: `${join(dir, 'bin')}:/usr/bin:/bin` });
}

function configWith(git: string): string {
  return track(
    makeConfigDir(
      { default: { port: socks.port } },
      { default: readFileSync(join(ROOT, 'profiles', 'default.yml'), 'utf8'), git },
    ),
  );
}

describe('git over SSH under the git profile', () => {
  it("git's ssh reaches Tor through torsocks, with its own per-process credentials, despite a Tails-like ProxyCommand", async () => {
    const shipped = readFileSync(join(ROOT, 'profiles', 'git.yml'), 'utf8');
    const r = await runLauncher(
      ['--config-dir', configWith(shipped), 'git', 'ls-remote', 'ssh://git.example.test/repo.git'],
      { env: tailsLikeSsh() },
    );
    // Our SOCKS server plays HTTP, not SSH: the ssh session itself fails, after Tor (the server) got it.
    expect(r.exitCode).not.toBe(0);
    const records = await socks.waitForRecords(2);
    const ssh = records.filter((x) => x.command === 'connect' && x.port === 22);
    expect(ssh).toHaveLength(1);
    expect(ssh[0]).toMatchObject({
      auth: 'userpass',
      username: expect.stringMatching(/^torsocks-\d+:\d+$/),
      password: '0',
    });
  });

  it('control: without ProxyCommand=none, torsocks refuses the ProxyCommand to 127.0.0.1 and nothing reaches Tor', async () => {
    const withoutFix = readFileSync(join(ROOT, 'profiles', 'git.yml'), 'utf8').replace(/^env:[\s\S]*$/m, '');
    expect(withoutFix).not.toContain('GIT_SSH_COMMAND');
    const r = await runLauncher(
      ['--config-dir', configWith(withoutFix), 'git', 'ls-remote', 'ssh://git.example.test/repo.git'],
      { env: tailsLikeSsh() },
    );
    expect(r.stderr).toMatch(
      /local address are denied|Connection refused|closed by remote host|Could not read from remote repository/,
    );
    expect(r.exitCode).not.toBe(0);
    await new Promise((resolve) => setTimeout(resolve, 300));
    expect(socks.records.filter((x) => x.port === 22)).toEqual([]);
  });
});
