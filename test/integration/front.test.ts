// The sh front (bin/tails-launch) of a checkout, run the ways people run it.
import { chmodSync, copyFileSync, existsSync, symlinkSync, writeFileSync } from 'node:fs';
import { execa } from 'execa';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { useSocks5Server, useTempDirs } from '../support/fixtures';
import { cleanEnv, LAUNCHER, makeConfigDir, runLauncher } from '../support/launcher';
import { EXIT } from '../support/expected';

const { make: tempDir } = useTempDirs();

describe("a checkout's front", () => {
  it('works through a symlink (~/bin/tails-launch -> the checkout), not a Node stack trace', async () => {
    const bin = tempDir('bin');
    const link = join(bin, 'tails-launch');
    symlinkSync(LAUNCHER, link);
    const r = await runLauncher(['--version'], {}, link);
    expect(r).toMatchObject({ exitCode: 0, stderr: '' });
    expect(r.stdout).toMatch(/^tails-launch \d+\.\d+\.\d+$/);
  });

  it('a copy away from its bundle says so in one line (70), never a stack trace', async () => {
    const bin = tempDir('lonely');
    copyFileSync(LAUNCHER, join(bin, 'tails-launch'));
    chmodSync(join(bin, 'tails-launch'), 0o755);
    const r = await runLauncher(['--version'], {}, join(bin, 'tails-launch'));
    expect(r.exitCode).toBe(EXIT.internal);
    expect(r.stderr).toBe(
      "tails-launch: cannot find its bundle (dist/tails-launch.mjs beside bin/): run 'npm run build' in the checkout, or reinstall tails-launch",
    );
  });

  describe("the caller's Node variables are the application's, not the launcher's", () => {
    const socks = useSocks5Server();
    const PRINT = [
      ...['NODE_OPTIONS', 'NODE_PATH', 'NODE_CHANNEL_FD', 'UV_THREADPOOL_SIZE'].map(
        (v) => `printf '%s\\n' "${v}=\${${v}-unset}"`,
      ),
      'env | grep -c ^TAILS_LAUNCH_ || true',
    ].join('; ');

    async function launch(extra: Record<string, string>) {
      const config = tempDir('config');
      const dir = makeConfigDir(
        { t: { port: socks.port } },
        { default: 'listener: t\nisolation: app\nbackend: torsocks\n' },
      );
      return runLauncher(['--config-dir', dir, 'default', '--', '/bin/sh', '-c', PRINT], {
        env: cleanEnv({ HOME: config, ...extra }),
      });
    }

    it('a NODE_OPTIONS that would stop Node or run code in the launcher reaches only the application', async () => {
      const marker = join(tempDir('marker'), 'ran');
      const hook = join(tempDir('hook'), 'hook.cjs');
      writeFileSync(hook, `require('fs').writeFileSync(${JSON.stringify(marker)}, 'the launcher ran it')`);
      for (const options of [`--require=${hook}`, '--require=/nonexistent.js', '--no-such-option', '--stack-size=50']) {
        const r = await launch({ NODE_OPTIONS: options, UV_THREADPOOL_SIZE: '0', NODE_CHANNEL_FD: '9' });
        expect(r.stderr, options).toBe('');
        expect(r.exitCode, options).toBe(0);
        expect(r.stdout.split('\n'), options).toEqual([
          `NODE_OPTIONS=${options}`,
          'NODE_PATH=unset',
          'NODE_CHANNEL_FD=9',
          'UV_THREADPOOL_SIZE=0',
          '0',
        ]);
      }
      expect(existsSync(marker), 'the --require hook ran in the launcher').toBe(false);
      // Control: the same hook does run in a Node given that NODE_OPTIONS.
      await execa(process.execPath, ['-e', '0'], { env: { NODE_OPTIONS: `--require=${hook}` } });
      expect(existsSync(marker)).toBe(true);
    });

    it('values are kept byte for byte, an empty one stays empty and an unset one unset; a stale kept copy is dropped', async () => {
      const odd = ` a  "b" 'c' $HOME \\ \t; $(id) `;
      const r = await launch({ NODE_OPTIONS: odd, NODE_PATH: '', TAILS_LAUNCH_KEEP_NODE_CHANNEL_FD: '7' });
      expect(r.stderr).toBe('');
      expect(r.stdout.split('\n')).toEqual([
        `NODE_OPTIONS=${odd}`,
        'NODE_PATH=',
        'NODE_CHANNEL_FD=unset',
        'UV_THREADPOOL_SIZE=unset',
        '0',
      ]);
    });
  });
});
