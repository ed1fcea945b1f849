// The shipped files' validated data, built into the bundle
// (src/profile/parsed-cache.ts): it must make no plan differ from parsing,
// never serve a file whose text differs from a shipped file's, and nothing a
// user's program can write may stand in for it (the per-user cache it
// replaced could be forged).
import { cpSync, mkdirSync, readdirSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { useTempDirs } from '../support/fixtures';
import { buildVariant, cleanEnv, LAUNCHER, ROOT, runLauncher, SHIPPED_PROFILES } from '../support/launcher';

const { make: tempDir } = useTempDirs();
const SHIPPED = readdirSync(SHIPPED_PROFILES)
  .filter((f) => f.endsWith('.yml'))
  .map((f) => f.slice(0, -4))
  .sort();

/** A home of its own, so that no user layer of the machine's takes part. */
function envWith(extra: Record<string, string> = {}) {
  const home = tempDir('home');
  return cleanEnv({ HOME: home, XDG_CONFIG_HOME: join(home, 'xdg'), ...extra });
}

/** What `explain --json` answers, with what is drawn per launch (keys, passwords, run dirs) and each tree's own paths masked. */
async function outcome(launcher: string, args: string[], env: Record<string, string>) {
  const result = await runLauncher(['explain', '--json', ...args], { env }, launcher);
  const masked = result.stdout.replace(/[0-9a-f]{16,}/g, 'RANDOM').replace(/"[^"]*\/dist\//g, '"DIST/');
  return { exitCode: result.exitCode, stderr: result.stderr, plan: masked ? JSON.parse(masked) : null };
}

/** The plan of a launch that must be planned. */
async function plan(launcher: string, args: string[], env = envWith()) {
  const result = await outcome(launcher, args, env);
  expect(result.stderr).toBe('');
  expect(result.exitCode).toBe(0);
  return result.plan;
}

/** A copy of the shipped layer (listeners.yml and every profile) in a --config-dir of its own. */
function shippedCopy(): string {
  const dir = tempDir('shipped-copy');
  cpSync(join(ROOT, 'listeners.yml'), join(dir, 'listeners.yml'));
  cpSync(SHIPPED_PROFILES, join(dir, 'profiles'), { recursive: true });
  return dir;
}

describe("the shipped files' data, built into the launcher", () => {
  let parsing: string;
  let noParser: string;
  beforeAll(async () => {
    // A build that parses every file, and a copy of the real build without its parser.
    parsing = await buildVariant(tempDir('parsing'), { TAILS_LAUNCH_NO_SHIPPED_PARSED: '1' });
    const tree = tempDir('no-parser');
    cpSync(join(ROOT, 'bin'), join(tree, 'bin'), { recursive: true });
    cpSync(join(ROOT, 'dist'), join(tree, 'dist'), { recursive: true });
    symlinkSync(join(ROOT, 'node_modules'), join(tree, 'node_modules'));
    const parser = readdirSync(join(tree, 'dist')).filter((f) => f.startsWith('parse-file-'));
    expect(parser).toHaveLength(1);
    rmSync(join(tree, 'dist', parser[0]!));
    noParser = join(tree, 'bin', 'tails-launch');
  }, 120_000);

  it('plans every shipped profile exactly as parsing its files does', async () => {
    const env = envWith();
    const planned: string[] = [];
    for (const name of SHIPPED) {
      const args = name === 'default' ? ['default', '--', '/bin/true'] : [name];
      const built = await outcome(LAUNCHER, args, env);
      expect(built, name).toEqual(await outcome(parsing, args, env));
      if (built.exitCode === 0) planned.push(name);
    }
    // Only the profiles no jail can run (guard: host), with no firewall declared here, are refused.
    expect(SHIPPED.filter((name) => !planned.includes(name))).toEqual([
      'apt',
      'gpg-dirmngr',
      'htpdate',
      'onionshare',
      'onionshare-cli',
    ]);
  }, 120_000);

  it('is really used: without its parser the launcher still plans every shipped profile', async () => {
    // Control: the copy without a parser cannot read a file that is not shipped.
    const config = shippedCopy();
    writeFileSync(
      join(config, 'profiles/curl.yml'),
      `${readFileSync(join(SHIPPED_PROFILES, 'curl.yml'), 'utf8')}# edited\n`,
    );
    const edited = await runLauncher(['--config-dir', config, 'explain', 'curl'], { env: envWith() }, noParser);
    expect(edited.exitCode).not.toBe(0);
    expect(edited.stdout).toBe('');
    const env = envWith();
    for (const name of SHIPPED) {
      const args = name === 'default' ? ['default', '--', '/bin/true'] : [name];
      expect(await outcome(noParser, args, env), name).toEqual(await outcome(LAUNCHER, args, env));
    }
  }, 120_000);

  it('never serves a file whose text differs from a shipped one, however slightly', async () => {
    const config = shippedCopy();
    const file = join(config, 'profiles/default.yml');
    const text = readFileSync(file, 'utf8');
    expect(text).toMatch(/^isolation: launch$/m);
    // Same size: one word swapped for another of the same length.
    const edited = text.replace(/^isolation: launch$/m, 'isolation: app   ');
    expect(edited.length).toBe(text.length);
    writeFileSync(file, edited);
    const env = envWith();
    expect((await plan(LAUNCHER, ['--config-dir', config, 'default', '--', '/bin/true'], env)).isolation.mode).toBe(
      'app',
    );
    // A .json file with a shipped YAML text is read by its own loader, not from the table.
    rmSync(file);
    writeFileSync(join(config, 'profiles/default.json'), text);
    const json = await runLauncher(
      ['--config-dir', config, 'explain', 'default', '--', '/bin/true'],
      { env },
      noParser,
    );
    expect(json.exitCode).not.toBe(0);
  });

  it('sees a new override in a higher layer at once', async () => {
    const env = envWith();
    expect((await plan(LAUNCHER, ['ssh'], env)).isolation.mode).toBe('launch');
    mkdirSync(join(env.XDG_CONFIG_HOME!, 'tails-launch/profiles'), { recursive: true });
    writeFileSync(join(env.XDG_CONFIG_HOME!, 'tails-launch/profiles/ssh.yml'), 'extends: ssh\nisolation: process\n');
    expect((await plan(LAUNCHER, ['ssh'], env)).isolation.mode).toBe('process');
  });

  it("reads nothing a user's program can write: a forged cache in $XDG_RUNTIME_DIR weakens nothing", async () => {
    // The attack that retired the per-user cache: the shipped listeners.yml's
    // text with a host_firewall in its data, and pidgin's jail taken away.
    const runtime = tempDir('runtime');
    const env = envWith({ XDG_RUNTIME_DIR: runtime });
    const user = (await runLauncher(['explain', '--json', 'pidgin'], { env })).stdout;
    const before = JSON.parse(user);
    expect(before.guard.by).toBe('user');
    const listeners = readFileSync(join(ROOT, 'listeners.yml'), 'utf8');
    const pidgin = readFileSync(join(SHIPPED_PROFILES, 'pidgin.yml'), 'utf8');
    const forged = {
      entries: {
        [join(ROOT, 'listeners.yml')]: {
          kind: 'listeners',
          text: listeners,
          data: { host_firewall: { description: 'forged', users: [process.env.USER ?? 'root'] } },
        },
        [join(SHIPPED_PROFILES, 'pidgin.yml')]: {
          kind: 'profile',
          text: pidgin,
          data: { listener: 'default', isolation: 'launch', backend: 'torsocks' },
        },
      },
    };
    mkdirSync(join(runtime, 'tails-launch'), { mode: 0o700 });
    for (const name of ['parsed.json', 'parsed-source.json', 'cache.json'])
      writeFileSync(join(runtime, 'tails-launch', name), JSON.stringify({ build: 'source', ...forged }), {
        mode: 0o600,
      });
    const after = await plan(LAUNCHER, ['pidgin'], env);
    expect(after.guard.by).toBe('user');
    expect(after.backend).toBe(before.backend);
    // Nothing was written there either.
    expect(readdirSync(join(runtime, 'tails-launch')).sort()).toEqual([
      'cache.json',
      'parsed-source.json',
      'parsed.json',
    ]);
  });
});
