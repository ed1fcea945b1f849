import { describe, expect, it } from 'vitest';
import { join } from 'node:path';
import { proxychainsBackend, proxychainsConfig } from '../../src/backends/proxychains';
import { ConfigError } from '../../src/profile/config-error';
import { loadListeners } from '../../src/profile/load';
import { resolveProfile } from '../../src/profile/resolve';
import { LISTENERS, writeLayer } from '../support/temp-config';

const endpoint = { address: '127.0.0.1', port: 9050 };
const userpass = { kind: 'userpass' as const, username: '<torS0X>0', password: 'tails-launch/app/x' };

describe('proxychains backend', () => {
  it('generates a strict, proxy_dns configuration with the group credentials on one socks5 line', () => {
    const config = proxychainsConfig(endpoint, userpass);
    const lines = config.split('\n').filter((l) => l && !l.startsWith('#'));
    expect(lines).toEqual([
      'strict_chain',
      'proxy_dns',
      'remote_dns_subnet 224',
      'tcp_read_time_out 15000',
      'tcp_connect_time_out 8000',
      'quiet_mode',
      '[ProxyList]',
      'socks5 127.0.0.1 9050 <torS0X>0 tails-launch/app/x',
    ]);
    // Never a chain mode that could skip a dead proxy, never a local-network exception.
    expect(config).not.toMatch(/dynamic_chain|random_chain|round_robin_chain|localnet/);
  });

  it('sends no credentials for isolation none, and masks them for explain', () => {
    expect(proxychainsConfig(endpoint, { kind: 'none' })).toContain('\nsocks5 127.0.0.1 9050\n');
    const masked = proxychainsConfig(endpoint, userpass, true);
    expect(masked).toContain('socks5 127.0.0.1 9050 <torS0X>0 ********');
    expect(masked).not.toContain('tails-launch/app/x');
  });

  it('preloads libproxychains itself, hands the configuration over by a file, never in argv or the environment, and says what it cannot do', () => {
    const step = proxychainsBackend.step(endpoint, userpass);
    expect(step.preload).toEqual({ wrapper: 'proxychains4', library: '/usr/lib/x86_64-linux-gnu/libproxychains.so.4' });
    expect(step.env).toEqual({
      LD_PRELOAD: '/usr/lib/x86_64-linux-gnu/libproxychains.so.4',
      PROXYCHAINS_QUIET_MODE: '1',
    });
    expect(step.files).toHaveLength(1);
    expect(step.files[0]).toMatchObject({ dir: 'proxychains', variable: 'PROXYCHAINS_CONF_FILE' });
    expect(step.files[0]!.content).toContain('tails-launch/app/x');
    expect(step.files[0]!.display).not.toContain('tails-launch/app/x');
    expect(step.notes.join(' ')).toMatch(/UDP/);
    expect(proxychainsBackend.preloads).toBe(true);
    // The backend states the weakness a profile must acknowledge; resolution only asks.
    expect(proxychainsBackend.mustAcknowledge.map((a) => a.name)).toEqual(['udp-leak']);
    expect(proxychainsBackend.cannotIsolate('process')).toMatch(/needs backend torsocks/);
    expect(proxychainsBackend.cannotIsolate('launch')).toBeNull();
  });

  it('may be used only by a profile that acknowledges the UDP leak (directly or through extends)', async () => {
    const layer = writeLayer('config-dir', {
      'listeners.yml': LISTENERS,
      'profiles/silent.yml': 'listener: default\nisolation: app\nbackend: proxychains\n',
      'profiles/knowing.yml': 'listener: default\nisolation: app\nbackend: proxychains\nacknowledge: [udp-leak]\n',
      'profiles/child.yml': 'extends: knowing\nisolation: launch\n',
      'profiles/perprocess.yml': 'extends: knowing\nisolation: process\n',
    });
    const listeners = await loadListeners([layer]);
    const error = await resolveProfile([layer], listeners, 'silent').then(
      () => null,
      (e: unknown) => e,
    );
    expect(error).toBeInstanceOf(ConfigError);
    expect((error as Error).message).toContain(
      `${join(layer.dir, 'profiles/silent.yml')}:3: backend: backend proxychains lets UDP out of Tor`,
    );
    expect((error as Error).message).toContain('acknowledge: [udp-leak]');
    await expect(resolveProfile([layer], listeners, 'knowing')).resolves.toMatchObject({
      backend: 'proxychains',
      acknowledge: ['udp-leak'],
    });
    await expect(resolveProfile([layer], listeners, 'child')).resolves.toMatchObject({
      backend: 'proxychains',
      isolation: 'launch',
    });
    const perProcess = await resolveProfile([layer], listeners, 'perprocess').then(
      () => null,
      (e: unknown) => e,
    );
    expect((perProcess as Error).message).toContain('needs backend torsocks');
  });
});
