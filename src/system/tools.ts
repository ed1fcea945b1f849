// The system tools placement and jails run (`netns setup`, `jail setup`, the
// making of a jail): iproute2's ip, sysctl and nft (and dpkg-divert, for
// `desktop --install`), by fixed absolute paths,
// with argv arrays (never a shell), an environment of their own, and their
// first error line quoted back. One runner for all of them.
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { EXIT } from '../errors/exit-codes';
import { LaunchError } from '../errors/launch-error';

/**
 * iproute2's ip. Debian's iproute2 installs the program as /bin/ip (with
 * /sbin/ip a link to it); /bin/ip is there whether /usr is merged (/bin ->
 * usr/bin) or not, and in packages that install into /usr/bin.
 */
export const IP = '/bin/ip';
/** procps' sysctl: /sbin/sysctl in bookworm's package, /usr/sbin/sysctl later, both reached as /sbin/sysctl (merged /usr). */
export const SYSCTL = '/sbin/sysctl';
/** nftables' nft: /usr/sbin/nft on every layout. */
export const NFT = '/usr/sbin/nft';
/** dpkg's dpkg-divert (`desktop --install` system-wide): /usr/bin on every layout. */
export const DPKG_DIVERT = '/usr/bin/dpkg-divert';

const PACKAGE_OF: Record<string, string> = {
  [IP]: 'iproute2',
  [SYSCTL]: 'procps',
  [NFT]: 'nftables',
  [DPKG_DIVERT]: 'dpkg',
};

/** A tool that failed: its first error line, exit 1 (the system refused a change; not a bug, not a configuration error). */
export class ToolError extends LaunchError {
  constructor(what: string, argv: readonly string[], detail: string) {
    super(EXIT.checkFailed, `cannot ${what}: ${argv.join(' ')}: ${detail}`);
    this.name = 'ToolError';
  }
}

export interface ToolResult {
  status: number;
  stdout: string;
  stderr: string;
}

/** The environment the tools run in: their messages in English (quoted, and matched by callers), no caller's variables. */
const TOOL_ENV = { PATH: '/usr/sbin:/usr/bin:/sbin:/bin', LC_ALL: 'C' };

/** Refuses (127) when one of TOOLS is not installed, before anything is changed. */
export function requireTools(tools: readonly string[]): void {
  for (const tool of tools) {
    if (!existsSync(tool))
      throw new LaunchError(
        EXIT.notFound,
        `${tool} not found: install the ${PACKAGE_OF[tool] ?? 'package that has it'}`,
      );
  }
}

/**
 * Runs ARGV (argv[0] an absolute path) with INPUT on stdin; never throws for
 * a non-zero status. FD3, when given, is the child's descriptor 3 (a
 * namespace for `ip link add … netns /proc/self/fd/3`).
 */
export function runTool(argv: readonly string[], options: { input?: string; fd3?: number } = {}): ToolResult {
  const result = spawnSync(argv[0]!, argv.slice(1), {
    input: options.input ?? '',
    encoding: 'utf8',
    env: TOOL_ENV,
    timeout: 30_000,
    maxBuffer: 16 * 1024 * 1024,
    stdio: options.fd3 === undefined ? 'pipe' : ['pipe', 'pipe', 'pipe', options.fd3],
  });
  if (result.error) {
    const code = (result.error as NodeJS.ErrnoException).code;
    if (code === 'ENOENT')
      throw new LaunchError(EXIT.notFound, `${argv[0]} not found: install ${PACKAGE_OF[argv[0]!] ?? 'its package'}`);
    return { status: -1, stdout: '', stderr: `${code ?? result.error.message}` };
  }
  return { status: result.status ?? -1, stdout: result.stdout, stderr: result.stderr };
}

/** The first line a failed tool wrote, or its status. */
export function firstLine(result: ToolResult): string {
  const line = result.stderr.split('\n').find((l) => l.trim() !== '');
  return line?.trim() ?? `exit status ${result.status}`;
}

/** Runs ARGV and fails (ToolError, exit 1) with its first error line when it fails; WHAT says what was being done. */
export function mustRun(what: string, argv: readonly string[], input?: string): string {
  const result = runTool(argv, { input });
  if (result.status !== 0) throw new ToolError(what, argv, firstLine(result));
  return result.stdout;
}
