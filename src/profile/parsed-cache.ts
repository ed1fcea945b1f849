// A cache of validated configuration files, so that an ordinary launch loads
// neither js-yaml nor zod nor the schemas (~20 ms of a ~70 ms launch).
//
// Safety rests on the key, which is the file's CONTENT: every launch reads
// each configuration file it uses (through ./trust, so the trust checks and
// the size bound apply to a cache hit too), and an entry is used only when
// the text it was parsed from is exactly, character for character, the text
// just read. Timestamps are not enough: on a filesystem with one-second
// timestamps, a same-size edit within the second keeps every stat field. A
// hash would do as well but needs node:crypto (OpenSSL, ~3.5 ms to load on
// every launch); comparing the text itself costs nothing at these sizes
// (a profile is a few hundred bytes), and the parsed data depends on the
// text alone. Which files a launch consults is still decided afresh every
// time (the layer lookups stat every candidate), so a new override in a
// higher layer is always seen. Errors are never cached.
//
// The cache lives in $XDG_RUNTIME_DIR (per user, tmpfs, gone at logout), in
// a 0700 directory of the user's own; the cache file is used only when it is
// a regular file of at most MAX_CACHE_BYTES, ours and exactly 0600 (opened
// with O_NONBLOCK and O_NOFOLLOW and checked on its descriptor: a FIFO or a
// symlink there is ignored, never waited on). Without XDG_RUNTIME_DIR
// (system services) there is no cache: every launch parses. The cache can
// never make a launch go around Tor: whoever can write it can also write the
// user's own configuration layer.
import {
  closeSync,
  fchmodSync,
  lstatSync,
  mkdirSync,
  openSync,
  readdirSync,
  renameSync,
  rmSync,
  writeFileSync,
} from 'node:fs';
import { isAbsolute, join } from 'node:path';
import { MiB, readBoundedFile } from './safe-read';

/** Changes with every build (scripts/build.mjs): validated data of another build is never trusted. */
declare const __BUILD_ID__: string;
const BUILD_ID = typeof __BUILD_ID__ === 'string' ? __BUILD_ID__ : 'source';

/**
 * The cache file's bound. Each entry holds a file's text and its parsed data,
 * a few hundred bytes for a profile; 8 MiB is room for thousands of them.
 * A larger file is ignored (read as empty), and never written (see save).
 */
export const MAX_CACHE_BYTES = 8 * MiB;

type Kind = 'listeners' | 'profile';
interface Entry {
  kind: Kind;
  /** The exact text DATA was parsed and validated from: the key. */
  text: string;
  data: unknown;
}

export interface ParsedCache {
  /** FILE's validated content: from the cache when it was parsed from exactly TEXT, else from PARSE (then remembered). */
  read<T>(kind: Kind, file: string, text: string, parse: () => Promise<T>): Promise<T>;
  /** Writes the cache back if anything was parsed; never throws. */
  save(): void;
}

/** The cache that never remembers (validate, tests, no XDG_RUNTIME_DIR). */
export const NO_CACHE: ParsedCache = { read: (_kind, _file, _text, parse) => parse(), save: () => {} };

/** Ours alone: owned by us, not writable by group or others. */
function ownedPrivately(stats: { uid: number; mode: number }): boolean {
  return stats.uid === process.geteuid?.() && (stats.mode & 0o022) === 0;
}

/** The cache file as we write it: ours, exactly 0600. */
function cacheFileProblem(stats: { uid: number; mode: number }): string | null {
  return stats.uid === process.geteuid?.() && (stats.mode & 0o7777) === 0o600 ? null : 'not ours alone';
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
  try {
    const read = readBoundedFile(file, { maxBytes: MAX_CACHE_BYTES, noFollow: true, check: cacheFileProblem });
    if (read === null) return {};
    const parsed = JSON.parse(read.text) as { build?: unknown; entries?: unknown };
    return parsed.build === BUILD_ID && parsed.entries && typeof parsed.entries === 'object'
      ? (parsed.entries as Record<string, Entry>)
      : {};
  } catch {
    return {}; // not a regular file, not ours, too large, unreadable or corrupt: as if empty
  }
}

/** Writes TEXT to FILE, which must not exist yet, as exactly 0600 whatever the umask. */
function writePrivately(file: string, text: string): void {
  const fd = openSync(file, 'wx', 0o600);
  try {
    fchmodSync(fd, 0o600);
    writeFileSync(fd, text);
  } finally {
    closeSync(fd);
  }
}

export function openParsedCache(env: Readonly<Record<string, string | undefined>>): ParsedCache {
  const dir = cacheDirectory(env);
  if (!dir) return NO_CACHE;
  const file = join(dir, `parsed-${BUILD_ID}.json`);
  let entries = readEntries(file);
  // What this launch used: kept first when the cache grows too large.
  const used = new Set<string>();
  let dirty = false;
  return {
    async read(kind, path, text, parse) {
      used.add(path);
      const entry = entries[path];
      // The key is the text itself: DATA was parsed from exactly this text, or it is not used.
      if (entry && entry.kind === kind && typeof entry.text === 'string' && entry.text === text)
        return entry.data as never;
      // PARSE parses TEXT (read once, by the caller), so what is remembered is what was validated.
      const data = await parse();
      entries[path] = { kind, text, data };
      dirty = true;
      return data;
    },
    save() {
      if (!dirty) return;
      try {
        let json = JSON.stringify({ build: BUILD_ID, entries });
        if (Buffer.byteLength(json) > MAX_CACHE_BYTES) {
          // Too large to be read back: keep what this launch used, drop the rest.
          entries = Object.fromEntries(Object.entries(entries).filter(([path]) => used.has(path)));
          json = JSON.stringify({ build: BUILD_ID, entries });
          if (Buffer.byteLength(json) > MAX_CACHE_BYTES) return;
        }
        const temporary = `${file}.${process.pid}`;
        writePrivately(temporary, json);
        renameSync(temporary, file);
        // Caches of other builds are dead weight.
        for (const name of readdirSync(dir)) {
          if (
            name.startsWith('parsed-') &&
            name !== `parsed-${BUILD_ID}.json` &&
            !name.startsWith(`parsed-${BUILD_ID}.json.`)
          ) {
            rmSync(join(dir, name), { force: true });
          }
        }
      } catch {
        // A cache that cannot be written is only a slower next launch.
      }
    },
  };
}
