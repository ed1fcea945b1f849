// Carries out the plan's checks, cheapest first, before anything is exec'd.
// Any failure is a LaunchError: the application does not start.
import { writeSync } from 'node:fs';
import { setTimeout as sleep } from 'node:timers/promises';
import { EXIT, type ExitCode } from '../cli/exit-codes';
import { LaunchError } from '../cli/launch-error';
import type { Check, Plan, Socks5Check } from '../plan/types';
import { socks5Handshake, type HandshakeRequest } from '../tor/socks5-handshake';
import { findExecutable } from './find-executable';
import { hasFileCapabilities } from '../exec/execve';
import { inspectForPreload } from './inspect-binary';

const RETRY_MS = 500;

function checkPlacement(plan: Plan, check: Extract<Check, { kind: 'placement' }>): void {
  const what = [check.netns && `network namespace '${check.netns}'`, check.user && `user '${check.user}'`].filter(Boolean).join(' and ');
  throw new LaunchError(
    EXIT.refused,
    `profile '${plan.profile.name}' must run in ${what}, which this version of tails-launch cannot apply yet; refusing to launch it without (see 'tails-launch explain ${plan.profile.name}')`,
  );
}

function checkExecutable(plan: Plan, check: Extract<Check, { kind: 'wrapper' | 'application' }>, pathVariable: string | undefined): void {
  // Looked up again: the plan may have been made a moment ago, but exec is now.
  const found = check.path ? findExecutable(check.path, pathVariable, '/') : { status: 'not-found' as const, path: null };
  const hint =
    check.kind === 'wrapper'
      ? `install the ${check.name} package (profile '${plan.profile.name}' uses backend ${plan.backend})`
      : `install it, or fix 'command' in ${plan.profile.sources[0]}`;
  if (found.status === 'not-found') {
    throw new LaunchError(EXIT.notFound, `${check.kind} '${check.name}' not found${check.path ? ` at ${check.path}` : ' on PATH'}: ${hint}`);
  }
  if (found.status === 'not-executable') {
    throw new LaunchError(EXIT.cannotExecute, `${check.kind} '${check.name}' at ${found.path} cannot be executed: ${found.reason}`);
  }
}

/** torsocks and proxychains work by LD_PRELOAD: refuse what would escape them. */
function checkPreloadable(plan: Plan, check: Extract<Check, { kind: 'preloadable' }>): void {
  if (check.path === null) return; // the application check has refused it already
  const verdict = inspectForPreload(check.path);
  const refuse = (exitCode: ExitCode, detail: string): never => {
    throw new LaunchError(
      exitCode,
      `${check.path} ${detail}: ${plan.backend} could not see its connections, so it would bypass Tor; refusing to launch it (a proxy-aware program can use a profile with backend env)`,
    );
  };
  // `detail` names the interpreter when a script's is at fault.
  if (!verdict.ok) refuse(verdict.reason === 'unreadable' ? EXIT.cannotExecute : EXIT.wouldBypass, verdict.detail);
  // File capabilities, like setuid, make the loader ignore LD_PRELOAD.
  for (const file of verdict.ok ? verdict.chain : []) {
    if (hasFileCapabilities(file)) refuse(EXIT.wouldBypass, file === check.path ? 'has file capabilities' : `(through its interpreter ${file}) has file capabilities`);
  }
}

async function checkSocks(plan: Plan, check: Socks5Check): Promise<void> {
  const socks = plan.isolation.socks;
  const request: HandshakeRequest = {
    address: check.address,
    port: check.port,
    auth: socks.auth === 'userpass' ? { kind: 'userpass', username: socks.username, password: socks.password } : { kind: 'none' },
    timeoutMs: check.timeoutMs,
  };
  const deadline = Date.now() + check.waitSeconds * 1000;
  // node:tty costs a few ms to load: only when there is something to wait for.
  const showProgress = check.waitSeconds > 0 && (await import('node:tty')).isatty(2);
  for (let attempt = 1; ; attempt++) {
    const result = await socks5Handshake(request);
    if (result.ok) {
      if (showProgress && attempt > 1) writeSync(2, '\r\x1b[K');
      return;
    }
    const left = deadline - Date.now();
    if (left <= 0) {
      if (showProgress && attempt > 1) writeSync(2, '\r\x1b[K');
      const waited = check.waitSeconds > 0 ? ` after waiting ${check.waitSeconds} s` : '';
      throw new LaunchError(
        EXIT.torUnreachable,
        `Tor is not reachable${waited}: ${result.reason} (listener '${plan.listener.name}'); start Tor or wait for it to connect${check.waitSeconds ? '' : ', or use --wait-for-tor SECONDS'}`,
      );
    }
    if (showProgress) {
      const elapsed = Math.round(check.waitSeconds - left / 1000);
      writeSync(2, `\rtails-launch: waiting for Tor on ${check.address}:${check.port}... ${elapsed}/${check.waitSeconds} s`);
    }
    await sleep(Math.min(RETRY_MS, left));
  }
}

export async function runPreflight(plan: Plan, env: Record<string, string>): Promise<void> {
  for (const check of plan.checks) {
    if (check.kind === 'placement') checkPlacement(plan, check);
    else if (check.kind === 'preloadable') checkPreloadable(plan, check);
    else if (check.kind === 'socks5') await checkSocks(plan, check);
    else checkExecutable(plan, check, env.PATH);
  }
}
