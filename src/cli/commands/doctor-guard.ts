// doctor's guard checks: every profile has a guard here (the same decision
// as a launch), and a declared host firewall is visible in the ruleset as
// far as doctor can see it (root only: the ruleset is root's to read).
import { existsSync } from 'node:fs';
import { loadHostFirewall, loadJails } from '../../profile/load';
import type { Layer } from '../../profile/layers';
import { NO_CACHE } from '../../profile/parsed-cache';
import type { ResolvedProfile } from '../../profile/resolve';
import { runTool, NFT } from '../../system/tools';
import type { CheckReport } from '../../tor/check-report';
import { BWRAP_PATH, JAIL_HELPER_PATH } from '../../jail/constants';
import { guardOf } from '../guard-of';

/** guard.NAME: what holds each profile for this user; FAIL where nothing can. */
export async function checkGuards(profiles: ResolvedProfile[], layers: Layer[], report: CheckReport): Promise<void> {
  const jails = await loadJails(layers);
  const uid = process.getuid?.() ?? -1;
  for (const p of profiles) {
    const d = await guardOf(p, p.jail, jails, layers, NO_CACHE, uid);
    if (!d.ok) {
      // The problem says what to do, as the launch's refusal does.
      report.add(`guard.${p.name}`, 'fail', d.problem);
      continue;
    }
    const missing = d.guard.by === 'user' ? [JAIL_HELPER_PATH, BWRAP_PATH].filter((f) => !existsSync(f)) : [];
    if (missing.length)
      report.add(
        `guard.${p.name}`,
        'fail',
        `profile '${p.name}' is jailed, but ${missing.join(' and ')} is missing`,
        'install the bubblewrap and tails-launch packages',
      );
    else report.add(`guard.${p.name}`, 'ok', `profile '${p.name}': ${d.guard.kind}, ${d.guard.description}`);
  }
}

/** Whether nftables' ruleset (iptables-nft's included: ferm writes there) has an output chain that drops by default. */
function outputDropsByDefault(ruleset: unknown): boolean {
  const items = (ruleset as { nftables?: { chain?: { hook?: string; policy?: string } }[] }).nftables ?? [];
  return items.some((i) => i.chain?.hook === 'output' && i.chain.policy === 'drop');
}

/** host-firewall: declared in listeners.yml; as root, an output chain whose policy is drop must exist. */
export async function checkHostFirewall(layers: Layer[], report: CheckReport): Promise<void> {
  const declared = await loadHostFirewall(layers);
  if (declared === null) return;
  const what = `host_firewall (${declared.description}) holds ${declared.users.join(', ')}`;
  if (process.geteuid?.() !== 0)
    return report.add('host-firewall', 'skip', `${what}: the ruleset not checked (needs root)`);
  const listed = runTool([NFT, '-j', 'list', 'ruleset']);
  let drops = false;
  try {
    drops = listed.status === 0 && outputDropsByDefault(JSON.parse(listed.stdout));
  } catch {
    drops = false;
  }
  if (drops) report.add('host-firewall', 'ok', `${what}: an output chain drops by default`);
  else
    report.add(
      'host-firewall',
      'fail',
      `${what}, but no output chain in the ruleset drops by default: these users' programs that connect by themselves run unjailed`,
      'load the firewall, or remove host_firewall from /etc/tails-launch/listeners.yml',
    );
}
