// Real ELF fixtures for the preload checks (src/preflight/inspect-binary.ts),
// compiled with the system `cc` from test/fixtures/binaries/*.c: once per
// content of those sources (and of this recipe) into .cache/binaries-<hash>/
// (git-ignored). Safe when several test files or runs build at once: each
// binary is compiled to a private name and renamed into place atomically.
//
// Every fixture but the leak probes creates the file named by its (last)
// argument when it runs, so a test can prove that a program did or did not run.
import { execFile } from 'node:child_process';
import { createHash } from 'node:crypto';
import {
  chmodSync,
  copyFileSync,
  existsSync,
  mkdirSync,
  readdirSync,
  readFileSync,
  renameSync,
  rmSync,
  statSync,
  writeFileSync,
} from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '../..');

const SOURCES = join(ROOT, 'test/fixtures/binaries');
const CFLAGS = ['-O2', '-Wall', '-Wextra', '-Werror'];

/** name -> cc arguments (after CFLAGS); the output is appended. */
const RECIPES = {
  /** Dynamically linked (PT_INTERP): what an LD_PRELOAD wrapper can follow. */
  dynamic: ['marker.c'],
  /** -static: no program interpreter, nothing applies LD_PRELOAD. */
  static: ['-static', 'marker.c'],
  /** -static-pie: an ET_DYN file, but still without PT_INTERP. */
  staticPie: ['-static-pie', 'marker.c'],
  /** Dynamic, plus a .note.go.buildid section as Go programs have. */
  goLike: ['go-like.c'],
  /** A plain TCP/UDP client (test/fixtures/binaries/leak-probe.c), for the leak harness. */
  leakProbe: ['leak-probe.c'],
  leakProbeStatic: ['-static', 'leak-probe.c'],
} as const;

export type FixtureBinaries = { readonly [K in keyof typeof RECIPES]: string } & { readonly dir: string };

let built: Promise<FixtureBinaries> | undefined;

/** The compiled fixtures (compiling them with `cc` on first use). */
export function fixtureBinaries(): Promise<FixtureBinaries> {
  built ??= build();
  return built;
}

async function build(): Promise<FixtureBinaries> {
  const hash = createHash('sha256').update(JSON.stringify({ CFLAGS, RECIPES }));
  for (const name of readdirSync(SOURCES)
    .filter((n) => n.endsWith('.c'))
    .sort()) {
    hash.update(`\0${name}\0`).update(readFileSync(join(SOURCES, name)));
  }
  const dir = join(ROOT, '.cache', `binaries-${hash.digest('hex').slice(0, 16)}`);
  mkdirSync(dir, { recursive: true });
  const paths: Record<string, string> = { dir };
  await Promise.all(
    Object.entries(RECIPES).map(async ([name, args]) => {
      const exe = join(dir, name);
      paths[name] = exe;
      if (existsSync(exe)) return;
      const tmp = `${exe}.${process.pid}.${Date.now()}.tmp`;
      try {
        await promisify(execFile)('cc', [
          ...CFLAGS,
          ...args.map((a) => (a.endsWith('.c') ? join(SOURCES, a) : a)),
          '-o',
          tmp,
        ]);
        renameSync(tmp, exe);
      } catch (error) {
        throw new Error(
          `cannot build the ${name} fixture with cc (${args.join(' ')}; -static needs libc6-dev's libc.a): ${String(error)}`,
        );
      } finally {
        rmSync(tmp, { force: true });
      }
    }),
  );
  return paths as unknown as FixtureBinaries;
}

/** A copy of SOURCE at DIR/NAME with mode MODE (checked: chmod may drop setgid silently). */
export function copyWithMode(source: string, dir: string, name: string, mode: number): string {
  const copy = join(dir, name);
  copyFileSync(source, copy);
  chmodSync(copy, mode);
  const got = statSync(copy).mode & 0o7777;
  if (got !== mode) throw new Error(`chmod ${mode.toString(8)} ${copy} gave ${got.toString(8)}`);
  return copy;
}

/** A setuid (04755) copy of SOURCE. */
export const setuidCopy = (source: string, dir: string, name = 'setuid'): string =>
  copyWithMode(source, dir, name, 0o4755);

/** A setgid (02755) copy of SOURCE. */
export const setgidCopy = (source: string, dir: string, name = 'setgid'): string =>
  copyWithMode(source, dir, name, 0o2755);

/** An executable script DIR/NAME whose first line is `#!INTERPRETER` (INTERPRETER may carry arguments). */
export function script(dir: string, name: string, interpreter: string, body = 'exit 0\n'): string {
  const path = join(dir, name);
  writeFileSync(path, `#!${interpreter}\n${body}`, { mode: 0o755 });
  return path;
}

/** A script run by the static fixture (`#!STATIC`): a static program as #! interpreter. */
export async function scriptWithStaticInterpreter(dir: string, name = 'static-interpreted'): Promise<string> {
  return script(dir, name, (await fixtureBinaries()).static);
}
