// inspectForPreload on real files: programs compiled by `cc` from
// test/fixtures/binaries/ (test/support/binaries.ts), scripts around them, and
// the system's own /bin/sh and curl. Each compiled fixture is also run once, to
// show that it is a real, runnable program of the kind the verdict says.
import { execFileSync } from 'node:child_process';
import {
  chmodSync,
  closeSync,
  copyFileSync,
  existsSync,
  mkdirSync,
  openSync,
  readFileSync,
  readSync,
  writeFileSync,
} from 'node:fs';
import { join } from 'node:path';
import { build } from 'esbuild';
import { execa } from 'execa';
import { beforeAll, describe, expect, it } from 'vitest';
import { readElfFacts } from '../../src/preflight/inspect-binary';
import { inspectForPreload } from '../../src/preflight/resolve-program';
import { ROOT } from '../support/launcher';
import {
  fixtureBinaries,
  script,
  scriptWithStaticInterpreter,
  setgidCopy,
  setuidCopy,
  type FixtureBinaries,
} from '../support/binaries';
import { useTempDirs } from '../support/fixtures';

const temp = useTempDirs();
let bin: FixtureBinaries;
let dir: string;

beforeAll(async () => {
  bin = await fixtureBinaries();
  dir = temp.make('inspect-binary');
});

const isRoot = process.getuid?.() === 0;
const CURL = '/usr/bin/curl';
const DOCKER = ['/usr/local/bin/docker', '/usr/bin/docker'].find((p) => existsSync(p));

/** Runs PROGRAM ARGS... MARKER and tells whether it created MARKER. */
function ranAndMarked(program: string, ...args: string[]): boolean {
  const marker = join(dir, `marker-${Math.random().toString(36).slice(2)}`);
  execFileSync(program, [...args, marker], { stdio: 'ignore' });
  return existsSync(marker) && readFileSync(marker, 'utf8') === 'ran\n';
}

describe('the compiled fixtures', () => {
  it('all run and create their marker', () => {
    for (const program of [bin.dynamic, bin.static, bin.staticPie, bin.goLike])
      expect(ranAndMarked(program), program).toBe(true);
  });
});

describe('inspectForPreload: programs', () => {
  it('accepts /bin/sh', () => {
    expect(inspectForPreload('/bin/sh')).toMatchObject({ ok: true, chain: ['/bin/sh'] });
  });

  it.skipIf(!existsSync(CURL))('accepts /usr/bin/curl', () => {
    expect(inspectForPreload(CURL)).toMatchObject({ ok: true, chain: [CURL] });
  });

  it('accepts the dynamic fixture', () => {
    expect(inspectForPreload(bin.dynamic)).toMatchObject({ ok: true, chain: [bin.dynamic] });
  });

  it('refuses a -static program, and a -static-pie one', () => {
    for (const path of [bin.static, bin.staticPie]) {
      expect(inspectForPreload(path)).toEqual({ ok: false, reason: 'static', path, detail: 'is statically linked' });
    }
  });

  it("refuses a dynamic program that names its own loader (a working copy of the system's, elsewhere: nothing makes it apply LD_PRELOAD)", () => {
    const fd = openSync('/bin/true', 'r');
    const system = readElfFacts((offset, length) => {
      const buffer = Buffer.alloc(length);
      return buffer.subarray(0, readSync(fd, buffer, 0, length, offset));
    })?.interpreter;
    closeSync(fd);
    expect(system).toMatch(/^\/.*ld.*\.so/);
    const loader = join(dir, 'own-ld.so');
    copyFileSync(system!, loader);
    chmodSync(loader, 0o755);
    const program = join(dir, 'own-loader');
    execFileSync('cc', [
      '-O2',
      `-Wl,--dynamic-linker=${loader}`,
      join(ROOT, 'test/fixtures/binaries/marker.c'),
      '-o',
      program,
    ]);
    // Control: a real, runnable dynamic program.
    expect(ranAndMarked(program)).toBe(true);
    expect(inspectForPreload(program)).toEqual({
      ok: false,
      reason: 'unknown-format',
      path: program,
      detail: `names its own program interpreter (${loader}), not the system's dynamic loader, which alone applies LD_PRELOAD`,
    });
  });

  it.skipIf(process.arch !== 'x64')(
    "refuses a program with two PT_INTERP entries: its own loader first (the kernel's choice), the system's second (a checker's, were it to read the last)",
    () => {
      const own = join(dir, 'own-loader');
      const image = Buffer.from(readFileSync(own));
      const phoff = Number(image.readBigUInt64LE(32));
      const [phentsize, phnum] = [image.readUInt16LE(54), image.readUInt16LE(56)];
      // The own-loader program comes from the test before; the second entry names the system's loader.
      const system = Buffer.from('/lib64/ld-linux-x86-64.so.2\0');
      const notes = [...Array(phnum).keys()].filter((i) => image.readUInt32LE(phoff + i * phentsize) === 4);
      expect(notes.length).toBeGreaterThan(0);
      // The last PT_NOTE becomes a second PT_INTERP naming the system's loader, appended to the file.
      const at = phoff + notes.at(-1)! * phentsize;
      const dual = Buffer.concat([image, system]);
      dual.writeUInt32LE(3, at);
      dual.writeBigUInt64LE(BigInt(image.length), at + 8);
      dual.writeBigUInt64LE(BigInt(system.length), at + 32);
      dual.writeBigUInt64LE(BigInt(system.length), at + 40);
      const program = join(dir, 'dual-interp');
      writeFileSync(program, dual, { mode: 0o755 });
      // Control: the kernel runs it (with its own loader).
      expect(ranAndMarked(program)).toBe(true);
      expect(inspectForPreload(program)).toEqual({
        ok: false,
        reason: 'unknown-format',
        path: program,
        detail: 'has an unreadable program interpreter, or more than one',
      });
    },
  );

  it('refuses a dynamically linked program with a Go section', () => {
    expect(inspectForPreload(bin.goLike)).toEqual({
      ok: false,
      reason: 'go',
      path: bin.goLike,
      detail: 'is a Go program',
    });
  });

  it.skipIf(!DOCKER)('refuses a real Go program (docker)', () => {
    expect(inspectForPreload(DOCKER ?? '')).toMatchObject({ ok: false, reason: 'go' });
  });

  it('refuses setuid and setgid copies of the dynamic fixture', () => {
    const setuid = setuidCopy(bin.dynamic, dir);
    const setgid = setgidCopy(bin.dynamic, dir);
    expect(inspectForPreload(setuid)).toEqual({
      ok: false,
      reason: 'setuid',
      path: setuid,
      detail: isRoot ? 'is setuid root' : 'is setuid',
    });
    expect(inspectForPreload(setgid)).toEqual({ ok: false, reason: 'setgid', path: setgid, detail: 'is setgid' });
  });

  it('refuses a program for another architecture (binfmt_misc/qemu could run it, without the wrapper)', () => {
    const foreign = join(dir, 'foreign');
    const image = readFileSync(bin.dynamic);
    const little = image[5] === 1;
    const machine = little ? image.readUInt16LE(18) : image.readUInt16BE(18);
    const other = machine === 62 ? 183 : 62; // x86-64 <-> aarch64
    if (little) image.writeUInt16LE(other, 18);
    else image.writeUInt16BE(other, 18);
    writeFileSync(foreign, image, { mode: 0o755 });
    expect(inspectForPreload(foreign)).toMatchObject({
      ok: false,
      reason: 'unknown-format',
      path: foreign,
      detail: expect.stringMatching(/^is a 64-bit program for another architecture/),
    });
  });
});

describe('inspectForPreload: #! scripts', () => {
  it('follows #!/bin/sh, with or without a blank and arguments', () => {
    const plain = script(dir, 'plain.sh', '/bin/sh');
    const spaced = script(dir, 'spaced.sh', ' /bin/sh -e');
    expect(inspectForPreload(plain)).toMatchObject({ ok: true, chain: [plain, '/bin/sh'] });
    expect(inspectForPreload(spaced)).toMatchObject({ ok: true, chain: [spaced, '/bin/sh'] });
  });

  it("follows /usr/bin/env to what env runs, on the application's PATH, with env's argv", () => {
    const viaEnv = script(dir, 'env.sh', '/usr/bin/env sh');
    expect(inspectForPreload(viaEnv, { pathVariable: '/usr/bin:/bin', cwd: null }, [viaEnv, 'a'])).toMatchObject({
      ok: true,
      chain: [viaEnv, '/usr/bin/env', '/usr/bin/sh'],
      file: '/usr/bin/sh',
      argv: ['sh', viaEnv, 'a'],
    });
    const split = script(dir, 'split.sh', '/usr/bin/env -S sh -e');
    expect(inspectForPreload(split, { pathVariable: '/usr/bin:/bin', cwd: null }, [split, 'a'])).toMatchObject({
      ok: true,
      file: '/usr/bin/sh',
      argv: ['sh', '-e', split, 'a'],
    });
  });

  it("refuses a static program that env would find first on the application's PATH, and one named by env -S", () => {
    const pathDir = temp.make('static-on-path');
    execFileSync('cp', [bin.static, join(pathDir, 'python3')]);
    const viaEnv = script(dir, 'env-static.py', '/usr/bin/env python3');
    expect(inspectForPreload(viaEnv, { pathVariable: `${pathDir}:/usr/bin:/bin`, cwd: null })).toMatchObject({
      ok: false,
      reason: 'static',
      detail: `(through its interpreter /usr/bin/env, then ${join(pathDir, 'python3')}) is statically linked`,
    });
    const viaSplit = script(dir, 'env-split-static', `/usr/bin/env -S ${bin.static} -x`);
    expect(inspectForPreload(viaSplit, { pathVariable: '/usr/bin:/bin', cwd: null })).toMatchObject({
      ok: false,
      reason: 'static',
    });
  });

  it.each([
    ['/usr/bin/env', /env without a command/],
    ['/usr/bin/env -i sh', /env options/],
    ['/usr/bin/env A=1 sh', /a variable assignment/],
    ['/usr/bin/env -S A=1 sh', /a variable assignment/],
    ["/usr/bin/env -S sh -c 'x'", /quoting, escapes, variables/],
    ['/usr/bin/env -S ${SHELL}', /quoting, escapes, variables/],
  ])('refuses what env would do that it does not reproduce: #!%s', (line, why) => {
    const path = script(dir, `env-odd-${line.length}-${line.charCodeAt(line.length - 1)}`, line);
    expect(inspectForPreload(path, { pathVariable: '/usr/bin:/bin', cwd: null })).toMatchObject({
      ok: false,
      reason: 'unknown-format',
      detail: expect.stringMatching(why),
    });
  });

  it('refuses a script whose interpreter is static, naming the interpreter (and the kernel would run it)', async () => {
    const path = await scriptWithStaticInterpreter(dir);
    expect(inspectForPreload(path)).toEqual({
      ok: false,
      reason: 'static',
      path,
      detail: `(through its interpreter ${bin.static}) is statically linked`,
    });
    expect(ranAndMarked(path)).toBe(true);
  });

  it('follows nested interpreters, and names them all', () => {
    const inner = script(dir, 'inner', bin.static);
    const outer = script(dir, 'outer', inner);
    expect(inspectForPreload(outer)).toEqual({
      ok: false,
      reason: 'static',
      path: outer,
      detail: `(through its interpreter ${inner}, then ${bin.static}) is statically linked`,
    });
    expect(ranAndMarked(outer)).toBe(true);
  });

  it('refuses scripts whose interpreter is Go, setuid, setgid, or missing', () => {
    const go = script(dir, 'go.sh', bin.goLike);
    expect(inspectForPreload(go)).toMatchObject({
      ok: false,
      reason: 'go',
      path: go,
      detail: `(through its interpreter ${bin.goLike}) is a Go program`,
    });
    const setuidInterpreter = setuidCopy('/bin/sh', dir, 'setuid-sh');
    const viaSetuid = script(dir, 'setuid.sh', setuidInterpreter);
    expect(inspectForPreload(viaSetuid)).toMatchObject({
      ok: false,
      reason: 'setuid',
      path: viaSetuid,
      detail: expect.stringMatching(/^\(through its interpreter .*setuid-sh\) is setuid/),
    });
    const viaSetgid = script(dir, 'setgid.sh', setgidCopy('/bin/sh', dir, 'setgid-sh'));
    expect(inspectForPreload(viaSetgid)).toMatchObject({ ok: false, reason: 'setgid', path: viaSetgid });
    const missing = script(dir, 'missing.sh', join(dir, 'no-such-interpreter'));
    expect(inspectForPreload(missing)).toMatchObject({
      ok: false,
      reason: 'not-found',
      path: missing,
      detail: expect.stringMatching(/no-such-interpreter\) cannot be opened \(ENOENT\)$/),
    });
  });

  it('refuses a setuid or setgid script itself, though the kernel ignores the bits on scripts (fail closed)', () => {
    const path = setuidCopy(script(dir, 'self.sh', '/bin/sh'), dir, 'self-setuid.sh');
    expect(inspectForPreload(path)).toMatchObject({ ok: false, reason: 'setuid', path });
  });

  it('follows 4 levels of interpreters, not 5', () => {
    let four = '/bin/sh';
    for (let i = 1; i <= 4; i++) four = script(dir, `level-${i}`, four);
    const verdict = inspectForPreload(four);
    expect(verdict.ok && verdict.chain.length).toBe(5);
    const five = script(dir, 'level-5', four);
    expect(inspectForPreload(five)).toMatchObject({
      ok: false,
      reason: 'unknown-format',
      path: five,
      detail: expect.stringMatching(/has more than 4 levels of #! interpreters$/),
    });
  });

  it('refuses an empty or relative #! interpreter', () => {
    const empty = script(dir, 'empty.sh', '');
    const relative = script(dir, 'relative.sh', 'bin/sh');
    expect(inspectForPreload(empty)).toMatchObject({
      ok: false,
      reason: 'unknown-format',
      detail: 'has an empty #! line',
    });
    expect(inspectForPreload(relative)).toMatchObject({
      ok: false,
      reason: 'unknown-format',
      detail: 'has a relative #! interpreter (bin/sh)',
    });
  });
});

describe('inspectForPreload: neither ELF nor #!', () => {
  it('refuses a text file, an empty file and a directory', () => {
    const text = join(dir, 'text');
    writeFileSync(text, 'echo hello\n', { mode: 0o755 });
    const empty = join(dir, 'empty');
    writeFileSync(empty, '', { mode: 0o755 });
    const subdir = join(dir, 'subdir');
    mkdirSync(subdir);
    expect(inspectForPreload(text)).toEqual({
      ok: false,
      reason: 'unknown-format',
      path: text,
      detail: 'is neither an ELF program nor a #! script',
    });
    expect(inspectForPreload(empty)).toMatchObject({ ok: false, reason: 'unknown-format', path: empty });
    expect(inspectForPreload(subdir)).toEqual({
      ok: false,
      reason: 'unknown-format',
      path: subdir,
      detail: 'is not a regular file',
    });
  });

  it('says a missing file cannot be read', () => {
    const path = join(dir, 'nothing-here');
    expect(inspectForPreload(path)).toEqual({
      ok: false,
      reason: 'not-found',
      path,
      detail: 'cannot be opened (ENOENT)',
    });
  });

  it('says an execute-only file cannot be read (as an ordinary user)', async () => {
    const open = temp.make('exec-only');
    chmodSync(open, 0o755);
    const path = join(open, 'exec-only');
    writeFileSync(path, '#!/bin/sh\n');
    chmodSync(path, 0o111);
    const expected = { ok: false, reason: 'unreadable', path, detail: 'cannot be opened (EACCES)' };
    if (!isRoot) return expect(inspectForPreload(path)).toEqual(expected);
    // root reads anything (CAP_DAC_OVERRIDE): ask as nobody, with the module bundled for a plain node.
    const { outputFiles } = await build({
      entryPoints: ['src/preflight/resolve-program.ts'],
      bundle: true,
      platform: 'node',
      format: 'esm',
      write: false,
      logLevel: 'error',
    });
    const module = join(open, 'inspect.mjs');
    writeFileSync(
      module,
      `${outputFiles[0]!.text}\nconsole.log(JSON.stringify(inspectForPreload(process.argv[2])));\n`,
    );
    const asNobody = await execa(
      'setpriv',
      ['--reuid=65534', '--regid=65534', '--clear-groups', process.execPath, module, path],
      { stdin: 'ignore' },
    );
    expect(JSON.parse(asNobody.stdout)).toEqual(expected);
  });
});
