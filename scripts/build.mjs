// Bundles the launcher into dist/ for Node >= 18.20.
// One ESM entry; everything off the launch path (execa's spawn fallback, the
// `yaml` parser used only to point at the line of a config error) is a lazy
// chunk, so an ordinary launch evaluates as little JavaScript as possible.
// koffi is a native addon and stays external: it is required from
// node_modules next to dist/ (see debian/ for how the package ships it).
import { fileURLToPath } from 'node:url';
import { execFileSync } from 'node:child_process';
import { copyFileSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { basename, resolve } from 'node:path';
import { build } from 'esbuild';

const { version } = JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8'));

// Where the shipped configuration layer lives. The Debian build sets
// /usr/share/tails-launch; a checkout's own build uses the checkout itself,
// so that bin/tails-launch in the repo runs the repo's profiles.
const shippedDir =
  process.env.TAILS_LAUNCH_SHIPPED_DIR ?? fileURLToPath(new URL('..', import.meta.url)).replace(/\/$/, '');

// The launcher that rewritten desktop entries call (src/cli/commands/desktop.ts):
// /usr/bin/tails-launch in the package (debian/rules sets it), the
// checkout's own bin/tails-launch otherwise.
const frontPath = process.env.TAILS_LAUNCH_FRONT ?? fileURLToPath(new URL('../bin/tails-launch', import.meta.url));

// Debian's multiarch triplet: where the preload libraries of torsocks and
// libproxychains4 are (src/backends/libraries.ts). Fixed here, never looked
// up at run time. The Debian build passes DEB_HOST_MULTIARCH.
const MULTIARCH_OF = {
  x64: 'x86_64-linux-gnu',
  arm64: 'aarch64-linux-gnu',
  ia32: 'i386-linux-gnu',
  arm: 'arm-linux-gnueabihf',
  riscv64: 'riscv64-linux-gnu',
  ppc64: 'powerpc64le-linux-gnu',
  loong64: 'loongarch64-linux-gnu',
  s390x: 's390x-linux-gnu',
};
const multiarch = process.env.DEB_HOST_MULTIARCH || MULTIARCH_OF[process.arch];
if (!multiarch) throw new Error(`no Debian multiarch triplet known for ${process.arch}: set DEB_HOST_MULTIARCH`);

// TAILS_LAUNCH_OUTDIR: tests build variants (e.g. a missing library) beside the real one.
const outdir = process.env.TAILS_LAUNCH_OUTDIR ?? 'dist';

// The privileged entry (src/place/place.c) and what it runs: fixed when it is
// built, never looked up. The Debian build passes the installed paths; a
// checkout's entry runs the checkout's bundle with the Node that built it
// (root's own launches from a checkout; sudo only ever runs the package's).
const entryPath = process.env.TAILS_LAUNCH_ENTRY ?? resolve(outdir, 'place');
const entryNode = process.env.TAILS_LAUNCH_ENTRY_NODE ?? process.execPath;
const entryPreflight = process.env.TAILS_LAUNCH_ENTRY_PREFLIGHT ?? resolve(outdir, 'placed.mjs');
// The user jail's helper (src/jail/jail.c): the package's, or the checkout's.
const jailPath = process.env.TAILS_LAUNCH_JAIL ?? resolve(outdir, 'jail');

// The validated data of the shipped configuration files, built into the
// bundle (src/profile/parsed-cache.ts): parsed here by the very code a
// launch runs (src/profile/parse-file.ts, bundled on its own first), so an
// ordinary launch of a shipped profile loads no parser. A file that does not
// validate stops the build.
async function shippedParsed() {
  const parser = resolve(outdir, `.shipped-parser-${process.pid}.mjs`);
  await build({
    entryPoints: ['src/profile/parse-file.ts'],
    outfile: parser,
    bundle: true,
    format: 'esm',
    platform: 'node',
    external: ['koffi', 'typescript'],
    banner: { js: "import{createRequire as __tlRequire}from'node:module';const require=__tlRequire(import.meta.url);" },
    logLevel: 'warning',
  });
  try {
    const { parseListenersText, parseProfileText } = await import(parser);
    // The repository's own files (what debian/ installs as the shipped layer), wherever the build runs.
    const repo = (path) => fileURLToPath(new URL(`../${path}`, import.meta.url));
    const files = [
      ['listeners', repo('listeners.yml')],
      ...readdirSync(repo('profiles'))
        .filter((f) => f.endsWith('.yml'))
        .sort()
        .map((f) => ['profile', repo(`profiles/${f}`)]),
    ];
    const table = [];
    for (const [kind, file] of files) {
      const text = readFileSync(file, 'utf8');
      const parse = kind === 'listeners' ? parseListenersText : parseProfileText;
      table.push([kind, text, await parse(file, text)]);
    }
    return table;
  } finally {
    rmSync(parser, { force: true });
  }
}

const options = {
  entryPoints: { 'tails-launch': 'src/cli/main.ts' },
  outdir,
  bundle: true,
  splitting: true,
  format: 'esm',
  platform: 'node',
  target: 'node18.20',
  minify: process.env.TAILS_LAUNCH_DEBUG_BUILD !== '1',
  sourcemap: false,
  legalComments: 'none',
  // typescript: cosmiconfig's .ts loader, which we never use (configs are data).
  external: ['koffi', 'typescript'],
  define: {
    __SHIPPED_DIR__: JSON.stringify(shippedDir),
    __FRONT_PATH__: JSON.stringify(frontPath),
    __VERSION__: JSON.stringify(version),
    __MULTIARCH__: JSON.stringify(multiarch),
    __ENTRY_PATH__: JSON.stringify(entryPath),
    __JAIL_PATH__: JSON.stringify(jailPath),
    // TAILS_LAUNCH_NO_SHIPPED_PARSED=1: a build that parses every file (tests compare the two).
    __SHIPPED_PARSED__: JSON.stringify(process.env.TAILS_LAUNCH_NO_SHIPPED_PARSED === '1' ? [] : await shippedParsed()),
  },
  outExtension: { '.js': '.mjs' },
  // Bundled CommonJS dependencies call require(); ESM has none.
  banner: { js: "import{createRequire as __tlRequire}from'node:module';const require=__tlRequire(import.meta.url);" },
  logLevel: 'warning',
  metafile: true,
};
const result = await build(options);

// The privileged entry's preflight (src/cli/placed.ts, run as the
// application's account): one self-contained file, so that it shares no chunk
// with the launcher and the launcher's start-up loads exactly what it did before.
const entry = await build({ ...options, entryPoints: { placed: 'src/cli/placed.ts' }, splitting: false });

// The C programs, every warning an error. The Debian build adds
// dpkg-buildflags' hardening through CFLAGS, CPPFLAGS and LDFLAGS.
const flags = (name) => (process.env[name] ?? '').split(/\s+/).filter(Boolean);
const compileC = (source, output, defines) =>
  execFileSync(
    process.env.CC ?? 'cc',
    [
      '-std=gnu11',
      '-O2',
      '-Wall',
      '-Wextra',
      '-Werror',
      '-Wformat=2',
      '-Wshadow',
      '-fstack-protector-strong',
      '-D_FORTIFY_SOURCE=2',
      '-fPIE',
      ...flags('CPPFLAGS'),
      ...flags('CFLAGS'),
      ...Object.entries(defines).map(([name, value]) => `-D${name}=${JSON.stringify(value)}`),
      source,
      '-pie',
      '-Wl,-z,relro,-z,now',
      ...flags('LDFLAGS'),
      '-o',
      `${outdir}/${output}`,
    ],
    { stdio: 'inherit' },
  );

// The privileged entry.
compileC('src/place/place.c', 'place', { NODE: entryNode, PREFLIGHT: entryPreflight });

// The rootless jail helper (src/jail/jail.c, not set-user-ID), and the two
// programs it runs by fixed paths: Debian's bubblewrap and xdg-dbus-proxy.
compileC('src/jail/jail.c', 'jail', {
  BWRAP: process.env.TAILS_LAUNCH_BWRAP ?? '/usr/bin/bwrap',
  XDG_DBUS_PROXY: process.env.TAILS_LAUNCH_XDG_DBUS_PROXY ?? '/usr/bin/xdg-dbus-proxy',
});

// The launcher's own torsocks.conf travels with the bundle.
copyFileSync('src/backends/torsocks.conf', `${outdir}/torsocks.conf`);

// Chunk names carry content hashes: remove stale ones, so they neither pile up
// nor ship. Only after the new files are written, so that a launcher running
// from dist/ meanwhile (a parallel test run) never finds a chunk missing.
const fresh = new Set(
  [
    ...Object.keys(result.metafile.outputs),
    ...Object.keys(entry.metafile.outputs),
    'torsocks.conf',
    'place',
    'jail',
  ].map((f) => basename(f)),
);
for (const file of readdirSync(outdir)) if (!fresh.has(file)) rmSync(`${outdir}/${file}`, { force: true });
