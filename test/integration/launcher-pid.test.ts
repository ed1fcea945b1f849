// The application keeps the launcher's PID (execve, not spawn), seen through
// the shared runner that every other integration test uses.
import { describe, expect, it } from 'vitest';
import { useSocks5Server, useTempDirs } from '../support/fixtures';
import { makeConfigDir, runLauncher } from '../support/launcher';

const socks = useSocks5Server();
const { track } = useTempDirs();

describe('runLauncher', () => {
  it('reports the PID that the launched application runs as', async () => {
    const config = track(
      makeConfigDir(
        { default: { port: socks.port } },
        { default: 'listener: default\nisolation: launch\nbackend: torsocks\n' },
      ),
    );
    const result = await runLauncher(['--config-dir', config, 'default', '--', '/bin/sh', '-c', 'echo $$']);
    expect(result.stderr).toBe('');
    expect(result.exitCode).toBe(0);
    expect(result.pid).toBeGreaterThan(1);
    expect(Number(result.stdout)).toBe(result.pid);
  });
});
