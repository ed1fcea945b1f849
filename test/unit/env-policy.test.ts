import { describe, expect, it } from 'vitest';
import { buildEnvironment } from '../../src/plan/env-policy';
import { isReservedForProfiles, isScrubbed } from '../../src/profile/reserved-env';

describe('environment policy', () => {
  it('scrubs every *_proxy in any case, SOCKS and wrapper variables', () => {
    for (const name of [
      'http_proxy',
      'HTTPS_PROXY',
      'Https_Proxy',
      'no_proxy',
      'NO_PROXY',
      'all_proxy',
      'ALL_PROXY',
      'gopher_proxy',
      'SOCKS_SERVER',
      'SOCKS5_SERVER',
      'SOCKS_VERSION',
      'TORSOCKS_PASSWORD',
      'TORSOCKS_CONF_FILE',
      'PROXYCHAINS_CONF_FILE',
      'TOR_SOCKS_PORT',
      'TOR_SOCKS_HOST',
      'TOR_TRANSPROXY',
      'TOR_PROVIDER',
      'TAILS_LAUNCH_CALLER',
    ]) {
      expect(isScrubbed(name), name).toBe(true);
    }
  });

  it("scrubs every variable the dynamic loader reads, and glibc's iconv module path: they load code or replace libraries", () => {
    for (const name of [
      'LD_PRELOAD',
      'LD_AUDIT',
      'LD_LIBRARY_PATH',
      'LD_ORIGIN_PATH',
      'LD_DEBUG_OUTPUT',
      'LD_BIND_NOT',
      'GCONV_PATH',
    ]) {
      expect(isScrubbed(name), name).toBe(true);
    }
    // Names that only look alike stay.
    for (const name of ['OLD_PRELOAD', 'ld_preload_x', 'GCONV']) expect(isScrubbed(name), name).toBe(false);
  });

  it('keeps ordinary variables, including Tor Browser ones that cannot route around Tor', () => {
    for (const name of [
      'PATH',
      'HOME',
      'DISPLAY',
      'PROXY',
      'TOR_SKIP_LAUNCH',
      'TOR_CONTROL_PORT',
      'GNOME_DESKTOP_SESSION_ID',
    ]) {
      expect(isScrubbed(name), name).toBe(false);
    }
  });

  it('reserves the scrubbed names and the dynamic-loader ones for profiles', () => {
    expect(isReservedForProfiles('https_proxy')).toBe(true);
    expect(isReservedForProfiles('LD_PRELOAD')).toBe(true);
    expect(isReservedForProfiles('LD_AUDIT')).toBe(true);
    expect(isReservedForProfiles('TOR_SKIP_LAUNCH')).toBe(false);
  });

  it('builds the complete environment: inherited minus scrubbed and unset, plus profile and backend', () => {
    const { env, changes } = buildEnvironment(
      {
        PATH: '/usr/bin',
        FOO: 'bar',
        http_proxy: 'http://evil:3128',
        DROP: 'x',
        TORSOCKS_PASSWORD: 'old',
        KEEP: undefined,
      },
      { TORSOCKS_PASSWORD: 'new' },
      { set: { GNOME_DESKTOP_SESSION_ID: '' }, unset: ['DROP'] },
    );
    expect(env).toEqual({ PATH: '/usr/bin', FOO: 'bar', GNOME_DESKTOP_SESSION_ID: '', TORSOCKS_PASSWORD: 'new' });
    expect(changes.set).toEqual({ GNOME_DESKTOP_SESSION_ID: '', TORSOCKS_PASSWORD: 'new' });
    // Replaced variables are reported as set and replaced, not as removed.
    expect(changes.removed).toEqual(['DROP', 'http_proxy']);
    expect(changes.replaced).toEqual(['TORSOCKS_PASSWORD']);
  });
});
