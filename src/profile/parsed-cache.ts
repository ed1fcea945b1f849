// A cache of validated configuration files, so that an ordinary launch loads
// neither js-yaml nor zod nor the schemas (~20 ms of a ~70 ms launch).
//
// Safety rests on the key: a file's device, inode, size, and modification
// AND change times in nanoseconds. Any write to the file changes its ctime,
// which (unlike mtime) no one can set back, so edited content is never
// served from the cache. Which files a launch consults is still decided
// afresh every time (the layer lookups stat every candidate), so a new
// override in a higher layer is always seen. Errors are never cached.
//
// The cache lives in $XDG_RUNTIME_DIR (per user, tmpfs, gone at logout), in
// a 0700 directory of the user's own; a file that is not the user's own, or
// is writable by others, is ignored. Without XDG_RUNTIME_DIR (system
// services) there is no cache: every launch parses. The cache can never make
// a launch go around Tor: whoever can write it can also write the user's own
// configuration layer.
import { closeSync, fstatSync, lstatSync, mkdirSync, openSync, readdirSync, readFileSync, renameSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { isAbsolute, join } from 'node:path';

/** Changes with every build (scripts/build.mjs): validated data of another build is never trusted. */
declare const __BUILD_ID__: string;
const BUILD_ID = typeof __BUILD_ID__ === 'string' ? __BUILD_ID__ : 'source';

type Kind = 'listeners' | 'profile';
interface Entry {
  kind: Kind;
  key: string;
  data: unknown;
}

export interface ParsedCache {
  /** FILE's validated content: from the cache when FILE is unchanged, else from PARSE (then remembered). Null: no such file. */
  read<T>(kind: Kind, file: string, parse: () => Promise<T | null>): Promise<T | null>;
  /** Writes the cache back if anything was parsed; never throws. */
  save(): void;
}

/** The cache that never remembers (validate, tests, no XDG_RUNTIME_DIR). */
export const NO_CACHE: ParsedCache = { read: (_kind, _file, parse) => parse(), save: () => {} };

function fileKey(file: string): string | null {
  const s = statSync(file, { bigint: true, throwIfNoEntry: false });
  return s ? `${s.dev}:${s.ino}:${s.size}:${s.mtimeNs}:${s.ctimeNs}` : null;
}

/** Ours alone: owned by us, not writable by group or others. */
function ownedPrivately(stats: { uid: number; mode: number }): boolean {
  return stats.uid === process.geteuid?.() && (stats.mode & 0o022) === 0;
}

function cacheDirectory(env: Readonly<Record<string, string | undefined>>): string | null {
  const runtime = env.XDG_RUNTIME_DIR;
  if (!runtime || !isAbsolute(runtime)) return null;
  const dir = join(runtime, 'tails-launch');
  try {
    mkdirSync(dir, { mode: 0o700 });
  } catch {
    // exists already, or cannot be made: checked next
  }
  try {
    const stats = lstatSync(dir);
    return stats.isDirectory() && ownedPrivately(stats) && (stats.mode & 0o077) === 0 ? dir : null;
  } catch {
    return null;
  }
}

function readEntries(file: string): Record<string, Entry> {
  let fd: number;
  try {
    fd = openSync(file, 'r');
  } catch {
    return {};
  }
  try {
    const stats = fstatSync(fd);
    if (!stats.isFile() || !ownedPrivately(stats)) return {};
    const parsed = JSON.parse(readFileSync(fd, 'utf8')) as { build?: unknown; entries?: unknown };
    return parsed.build === BUILD_ID && parsed.entries && typeof parsed.entries === 'object' ? (parsed.entries as Record<string, Entry>) : {};
  } catch {
    return {}; // unreadable or corrupt: as if empty
  } finally {
    closeSync(fd);
  }
}

export function openParsedCache(env: Readonly<Record<string, string | undefined>>): ParsedCache {
  const dir = cacheDirectory(env);
  if (!dir) return NO_CACHE;
  const file = join(dir, `parsed-${BUILD_ID}.json`);
  const entries = readEntries(file);
  let dirty = false;
  return {
    async read(kind, path, parse) {
      const key = fileKey(path);
      const entry = entries[path];
      if (key !== null && entry && entry.kind === kind && entry.key === key) return entry.data as never;
      const data = await parse();
      // The key was taken before parsing: if the file changed in between, the
      // next launch sees another key and parses again. Never the reverse.
      if (data !== null && key !== null) {
        entries[path] = { kind, key, data };
        dirty = true;
      }
      return data;
    },
    save() {
      if (!dirty) return;
      try {
        const temporary = `${file}.${process.pid}`;
        writeFileSync(temporary, JSON.stringify({ build: BUILD_ID, entries }), { mode: 0o600, flag: 'wx' });
        renameSync(temporary, file);
        // Caches of other builds are dead weight.
        for (const name of readdirSync(dir)) {
          if (name.startsWith('parsed-') && name !== `parsed-${BUILD_ID}.json` && !name.startsWith(`parsed-${BUILD_ID}.json.`)) {
            rmSync(join(dir, name), { force: true });
          }
        }
      } catch {
        // A cache that cannot be written is only a slower next launch.
      }
    },
  };
}
