// What explain and list print on stdout comes partly from configuration files
// (descriptions, commands, arguments, variables): a file cannot add lines to
// that output or send terminal escapes through it.
import { writeFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { useTempDirs } from '../support/fixtures';
import { makeConfigDir, runLauncher } from '../support/launcher';

const { track } = useTempDirs();

describe('explain and list escape what files put in their output', () => {
  it('a description with a newline and an ESC sequence stays on its line, escaped', async () => {
    // JSON, so that the file itself can carry the characters.
    const dir = track(makeConfigDir({ default: { port: 9 } }, {}));
    writeFileSync(
      `${dir}/profiles/odd.json`,
      JSON.stringify({
        description: 'fine\nodd     127.0.0.1:1  none  env\u001b[31m',
        listener: 'default',
        isolation: 'app',
        backend: 'torsocks',
        args: ['a\rb'],
      }),
    );
    const explain = await runLauncher(['--config-dir', dir, 'explain', 'odd', '--', '/bin/true']);
    expect(explain.exitCode).toBe(0);
    expect(explain.stdout).not.toMatch(/[\u001b\r]/);
    expect(explain.stdout).toContain('fine\\nodd');
    expect(explain.stdout).toContain('\\x1b[31m');
    const list = await runLauncher(['--config-dir', dir, 'list']);
    expect(list.exitCode).toBe(0);
    expect(list.stdout).not.toMatch(/\u001b/);
    // One row per profile: the forged "odd ... none env" row is not a row of its own.
    expect(list.stdout.split('\n').filter((l) => l.startsWith('odd '))).toHaveLength(1);
  });
});
