// Arguments and inherited variables that are not UTF-8 reach the application
// byte for byte (Node alone would hand it U+FFFD instead). The bytes are made
// by /bin/sh's printf: Node cannot put them in a child's argv itself.
import { execa } from 'execa';
import { beforeAll, describe, expect, it } from 'vitest';
import { useSocks5Server, useTempDirs } from '../support/fixtures';
import { cleanEnv, LAUNCHER, makeConfigDir } from '../support/launcher';

const socks = useSocks5Server();
const { make: tempDir, track } = useTempDirs();
let config: string;

beforeAll(() => {
  config = track(
    makeConfigDir(
      { default: { port: socks.port } },
      { default: 'listener: default\nisolation: launch\nbackend: torsocks\n' },
    ),
  );
});

/** Runs SCRIPT with /bin/sh, $L naming the launcher and $C the configuration; stdout as bytes. */
async function shell(
  script: string,
  cwd?: string,
): Promise<{ exitCode: number | undefined; stdout: Buffer; stderr: string }> {
  const r = await execa('/bin/sh', ['-c', script], {
    env: cleanEnv({ L: LAUNCHER, C: config }),
    extendEnv: false,
    encoding: 'buffer',
    reject: false,
    cwd,
    stdin: 'ignore',
  });
  return {
    exitCode: r.exitCode,
    stdout: Buffer.from(r.stdout as Uint8Array),
    stderr: Buffer.from(r.stderr as Uint8Array).toString(),
  };
}

describe('bytes that are not UTF-8', () => {
  it("an argument: `ls $'file\\xff'` finds the file", async () => {
    const dir = tempDir('bytes');
    // Node writes file names as UTF-8: the name is made by sh.
    const made = await shell(`cd '${dir}' && : > "$(printf 'file\\377')"`);
    expect(made.exitCode).toBe(0);
    const r = await shell(`cd '${dir}' && exec "$L" --config-dir "$C" default -- /bin/ls -d "$(printf 'file\\377')"`);
    expect(r.stderr).toBe('');
    expect(r.exitCode).toBe(0);
    expect(r.stdout).toEqual(Buffer.from([...Buffer.from('file'), 0xff])); // execa strips the final newline
  });

  it('arguments after a profile command and mixed with UTF-8 ones keep their order and bytes', async () => {
    const r = await shell(
      `exec "$L" --config-dir "$C" default -- /usr/bin/printf '%s|' "$(printf 'a\\377')" 'é' "$(printf '\\376b')"`,
    );
    expect(r.exitCode).toBe(0);
    expect(r.stdout).toEqual(Buffer.from([0x61, 0xff, 0x7c, ...Buffer.from('é|'), 0xfe, 0x62, 0x7c]));
  });

  it('an inherited variable keeps its bytes', async () => {
    const r = await shell(
      `FOO="$(printf '\\377\\376x')" exec "$L" --config-dir "$C" default -- /bin/sh -c 'printf %s "$FOO"'`,
    );
    expect(r.exitCode).toBe(0);
    expect(r.stdout).toEqual(Buffer.from([0xff, 0xfe, 0x78]));
  });

  it('a scrubbed variable stays scrubbed whatever its bytes', async () => {
    const r = await shell(
      `http_proxy="$(printf 'http://\\377')" exec "$L" --config-dir "$C" default -- /bin/sh -c 'printf %s "\${http_proxy-unset}"'`,
    );
    expect(r.stdout.toString()).toBe('unset');
  });
});
