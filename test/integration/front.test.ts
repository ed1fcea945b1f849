// The sh front (bin/tails-launch) of a checkout, run the ways people run it.
import { chmodSync, copyFileSync, symlinkSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { useTempDirs } from '../support/fixtures';
import { LAUNCHER, runLauncher } from '../support/launcher';
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
});
