// Would an LD_PRELOAD wrapper (torsocks, proxychains-ng) see a program's
// network calls? Not when the program is a static ELF (no program interpreter,
// so nothing loads the preload library), a Go program (its runtime makes raw
// syscalls, even when dynamically linked), setuid/setgid (the dynamic loader
// ignores LD_PRELOAD in secure-execution mode), or something the kernel hands
// to a binfmt_misc interpreter (qemu-user-static and friends). Checked before
// exec, synchronously, fail-closed: whatever cannot be shown to be safe is
// refused. Reads a few small pieces of each file (headers and tables, a few KB)
// with positional reads: never a whole binary.
//
// This is a guard against accidental bypass, not against a hostile program:
// any program can make raw syscalls.
import { readSync, type Stats } from 'node:fs';

/** As the kernel's binfmt_script: the #! line is read from the first 256 bytes. */
const HEAD_BYTES = 256;
/** Bounds on what is read of an ELF file's tables (real ones are a few KB). */
const MAX_PHDR_BYTES = 65536; // the kernel refuses to exec a larger program header table
const MAX_TABLE_BYTES = 1 << 20;
const MAX_NOTE_BYTES = 65536;

/**
 * glibc's dynamic loaders, as Debian's programs name them (PT_INTERP) on each
 * architecture, and their /usr forms (merged /usr). Root's files: a program
 * cannot add one.
 */
const SYSTEM_LOADERS = new Set(
  [
    '/lib64/ld-linux-x86-64.so.2',
    '/libx32/ld-linux-x32.so.2',
    '/lib/ld-linux.so.2',
    '/lib/ld-linux-aarch64.so.1',
    '/lib/ld-linux-armhf.so.3',
    '/lib/ld-linux.so.3',
    '/lib/ld-linux-riscv64-lp64d.so.1',
    '/lib64/ld64.so.2',
    '/lib/ld64.so.1',
    '/lib64/ld-linux-loongarch-lp64d.so.1',
  ].flatMap((path) => [path, `/usr${path}`]),
);

const S_ISUID = 0o4000; // not in fs.constants
const S_ISGID = 0o2000;
const PT_INTERP = 3;
const PT_NOTE = 4;
const SHT_NOBITS = 8;
const NT_GO_BUILDID = 4;
// Names are compared as bytes, without decoding: this runs once per launch in
// a fresh process, where every first use of a Buffer method costs.
const GO_SECTIONS = ['.note.go.buildid', '.go.buildinfo', '.gopclntab'].map(bytes);
/** Sections where older Go linkers (external linking) put the build info. */
const GO_BUILDINFO_HOSTS = ['.data.rel.ro', '.noptrdata'].map(bytes);
const GO_BUILDINFO_MAGIC = bytes('\xff Go buildinf:');
const GO_NOTE_OWNER = bytes('Go');

function bytes(text: string): Uint8Array {
  const out = new Uint8Array(text.length);
  for (let i = 0; i < text.length; i++) out[i] = text.charCodeAt(i);
  return out;
}

/** Whether DATA holds WANTED at AT (and, with TERMINATED, a NUL right after it). */
function bytesAt(data: Uint8Array, at: number, wanted: Uint8Array, terminated: boolean): boolean {
  if (at + wanted.length + (terminated ? 1 : 0) > data.length) return false;
  for (let i = 0; i < wanted.length; i++) if (data[at + i] !== wanted[i]) return false;
  return !terminated || data[at + wanted.length] === 0;
}

const HOST_LITTLE_ENDIAN = new Uint8Array(new Uint16Array([1]).buffer)[0] === 1;
/** ELF class (1: 32-bit, 2: 64-bit) and e_machine of this Node's architecture. */
const HOST_ELF: Partial<Record<string, [number, number]>> = {
  x64: [2, 62],
  ia32: [1, 3],
  arm64: [2, 183],
  arm: [1, 40],
  ppc64: [2, 21],
  ppc: [1, 20],
  s390x: [2, 22],
  riscv64: [2, 243],
  loong64: [2, 258],
  mips: [1, 8],
  mipsel: [1, 8],
};

// ---------------------------------------------------------------------------
// ELF

interface Fields {
  bits: 32 | 64;
  u16(b: DataView, at: number): number;
  u32(b: DataView, at: number): number;
  /** An address-sized field (4 or 8 bytes); -1 when beyond 2^53. */
  word(b: DataView, at: number): number;
}

const view = (b: Uint8Array): DataView => new DataView(b.buffer, b.byteOffset, b.byteLength);

function fields(bits: 32 | 64, little: boolean): Fields {
  const u16 = (b: DataView, at: number) => b.getUint16(at, little);
  const u32 = (b: DataView, at: number) => b.getUint32(at, little);
  const word =
    bits === 32
      ? u32
      : (b: DataView, at: number) => {
          const high = b.getUint32(little ? at + 4 : at, little);
          const low = b.getUint32(little ? at : at + 4, little);
          return high >= 0x200000 ? -1 : high * 0x100000000 + low;
        };
  return { bits, u16, u32, word };
}

/** The ELF header's class/data bytes, or null when HEAD is not ELF. */
function elfIdent(head: Buffer): { bits: 32 | 64; little: boolean } | null {
  if (head.length < 6 || head[0] !== 0x7f || head[1] !== 0x45 || head[2] !== 0x4c || head[3] !== 0x46) return null;
  const bits = head[4] === 1 ? 32 : head[4] === 2 ? 64 : null;
  const little = head[5] === 1 ? true : head[5] === 2 ? false : null;
  return bits === null || little === null ? null : { bits, little };
}

/** Reads exactly LENGTH bytes at OFFSET, or null (EOF, bad offset). */
function readExact(read: (offset: number, length: number) => Buffer, offset: number, length: number): Buffer | null {
  if (offset < 0 || length < 0 || !Number.isSafeInteger(offset + length)) return null;
  if (length === 0) return Buffer.alloc(0);
  const b = read(offset, length);
  return b.length >= length ? b.subarray(0, length) : null;
}

/** Whether a PT_NOTE segment holds a Go build ID note (owner "Go", type 4). */
function hasGoNote(notes: Buffer, f: Fields, align: number): boolean {
  const v = view(notes);
  const pad = (n: number) => Math.ceil(n / align) * align;
  for (let at = 0; at + 12 <= notes.length;) {
    const nameSize = f.u32(v, at);
    const descSize = f.u32(v, at + 4);
    const type = f.u32(v, at + 8);
    const name = at + 12;
    if (nameSize > notes.length - name) return false;
    // The owner is "Go" and NUL padding ("Go\0\0" from the Go linker).
    if (type === NT_GO_BUILDID && nameSize >= 3 && bytesAt(notes, name, GO_NOTE_OWNER, true)) {
      let padding = true;
      for (let i = name + 2; i < name + nameSize; i++) if (notes[i] !== 0) padding = false;
      if (padding) return true;
    }
    const next = name + pad(nameSize) + pad(descSize);
    if (next <= at) return false;
    at = next;
  }
  return false;
}

/** Pure: the facts the verdict needs from an ELF image, read through READ(offset, length) -> Buffer (shorter at EOF). */
export function readElfFacts(
  read: (offset: number, length: number) => Buffer,
): { hasInterpreter: boolean; interpreter: string | null; isGo: boolean } | null {
  // null: not ELF, or an ELF header or program header table the kernel would not run.
  // Never throws on short or garbage input (READ itself may throw: I/O errors).
  const ident = read(0, 64);
  const id = elfIdent(ident);
  if (!id) return null;
  const f = fields(id.bits, id.little);
  const is64 = id.bits === 64;
  if (ident.length < (is64 ? 64 : 52)) return null; // truncated header
  const header = view(ident);

  // Program headers: PT_INTERP makes the kernel start the dynamic loader,
  // which is what applies LD_PRELOAD. None (static, static-pie): nothing does.
  const phoff = f.word(header, is64 ? 32 : 28);
  const phentsize = f.u16(header, is64 ? 54 : 42);
  const phnum = f.u16(header, is64 ? 56 : 44);
  // The kernel refuses other entry sizes, and tables over 64 KB: so do we.
  if (phentsize !== (is64 ? 56 : 32) || phnum * phentsize > MAX_PHDR_BYTES) return null;
  const phdrBytes = readExact(read, phoff, phnum * phentsize);
  if (!phdrBytes) return null;
  const phdrs = view(phdrBytes);
  let hasInterpreter = false;
  let interpreter: string | null = null;
  let isGo = false;
  for (let at = 0; at < phdrBytes.length; at += phentsize) {
    const type = f.u32(phdrs, at);
    if (type === PT_INTERP) {
      // Two of them: the kernel takes one, a checker may read the other. Never judged: refused below.
      if (hasInterpreter) return { hasInterpreter, interpreter: null, isGo };
      hasInterpreter = true;
      // Its path, NUL-terminated (the kernel refuses one over PATH_MAX).
      const offset = f.word(phdrs, at + (is64 ? 8 : 4));
      const size = f.word(phdrs, at + (is64 ? 32 : 16));
      const path = size > 1 && size <= 4096 ? readExact(read, offset, size) : null;
      const end = path ? path.indexOf(0) : -1;
      interpreter = path && end > 0 ? path.toString('latin1', 0, end) : null;
    }
    if (type === PT_NOTE && !isGo) {
      // The Go build ID note is found here even when section headers are stripped.
      const offset = f.word(phdrs, at + (is64 ? 8 : 4));
      const size = f.word(phdrs, at + (is64 ? 32 : 16));
      const align = f.word(phdrs, at + (is64 ? 48 : 28));
      const notes = size > 0 && size <= MAX_NOTE_BYTES ? readExact(read, offset, size) : null;
      if (notes && hasGoNote(notes, f, align === 8 ? 8 : 4)) isGo = true;
    }
  }
  return { hasInterpreter, interpreter, isGo: isGo || hasGoSection(read, header, f) };
}

/**
 * Whether the section header table names a Go section, or a section where Go
 * keeps its build info starts with Go's build-info magic. Best effort: the
 * kernel does not need section headers, so missing or damaged ones say "no".
 */
function hasGoSection(read: (offset: number, length: number) => Buffer, header: DataView, f: Fields): boolean {
  const is64 = f.bits === 64;
  const shoff = f.word(header, is64 ? 40 : 32);
  const shentsize = f.u16(header, is64 ? 58 : 46);
  let shnum = f.u16(header, is64 ? 60 : 48);
  let shstrndx = f.u16(header, is64 ? 62 : 50);
  if (shoff <= 0 || shentsize < (is64 ? 64 : 40)) return false;
  const sizeAt = is64 ? 32 : 20;
  const offsetAt = is64 ? 24 : 16;
  if (shnum === 0 || shstrndx === 0xffff) {
    // 0xff00 sections or more: the real count and index are in section 0.
    const first = readExact(read, shoff, shentsize);
    if (!first) return false;
    if (shnum === 0) shnum = f.word(view(first), sizeAt);
    if (shstrndx === 0xffff) shstrndx = f.u32(view(first), is64 ? 40 : 24);
  }
  if (shnum <= 0 || shstrndx === 0 || shstrndx >= shnum) return false;
  const tableBytes = readExact(read, shoff, Math.min(shnum, Math.floor(MAX_TABLE_BYTES / shentsize)) * shentsize);
  if (!tableBytes || (shstrndx + 1) * shentsize > tableBytes.length) return false;
  const table = view(tableBytes);
  const strtabAt = shstrndx * shentsize;
  const strtabSize = f.word(table, strtabAt + sizeAt);
  const strtab =
    strtabSize > 0 && strtabSize <= MAX_TABLE_BYTES
      ? readExact(read, f.word(table, strtabAt + offsetAt), strtabSize)
      : null;
  if (!strtab) return false;
  for (let at = 0; at + shentsize <= tableBytes.length; at += shentsize) {
    const nameAt = f.u32(table, at);
    // Every name looked for is ".g...", ".n..." or ".d...": most sections stop here.
    const second = strtab[nameAt + 1];
    if (strtab[nameAt] !== 0x2e || (second !== 0x67 && second !== 0x6e && second !== 0x64)) continue;
    for (const name of GO_SECTIONS) if (bytesAt(strtab, nameAt, name, true)) return true;
    for (const name of GO_BUILDINFO_HOSTS) {
      if (!bytesAt(strtab, nameAt, name, true) || f.u32(table, at + 4) === SHT_NOBITS) continue;
      const start = readExact(read, f.word(table, at + offsetAt), GO_BUILDINFO_MAGIC.length);
      if (start && bytesAt(start, 0, GO_BUILDINFO_MAGIC, false)) return true;
    }
  }
  return false;
}

// ---------------------------------------------------------------------------
// Files

export function errorCode(error: unknown): string {
  const code = (error as NodeJS.ErrnoException | null)?.code;
  return typeof code === 'string' ? code : String(error);
}

/** A program for another architecture or ELF class: the native preload library cannot be loaded into it. */
function foreignArchitecture(head: Buffer, bits: 32 | 64, little: boolean): string | null {
  const host = HOST_ELF[process.arch];
  if (!host || head.length < 20) return null;
  const machine = view(head).getUint16(18, little);
  if (host[0] === (bits === 64 ? 2 : 1) && host[1] === machine && HOST_LITTLE_ENDIAN === little) return null;
  return `is a ${bits}-bit program for another architecture (ELF machine ${machine}, ${little ? 'little' : 'big'}-endian; this is ${process.arch}): the wrapper's library cannot be loaded into it`;
}

export type RefusalReason = 'static' | 'go' | 'setuid' | 'setgid' | 'unknown-format' | 'unreadable' | 'not-found';

/** What one open file is, to an LD_PRELOAD wrapper. */
export type FileVerdict =
  | { kind: 'elf' } // native, dynamically linked, not Go: the loader will preload
  | { kind: 'script'; interpreter: string; argument: string | null }
  | { kind: 'refused'; reason: RefusalReason; detail: string };

const blank = (c: number | undefined) => c === 0x20 || c === 0x09;

/**
 * Judges the file open as FD, whose fstat is STATS. Everything is read
 * through the descriptor: what is judged is what will be executed, however
 * the path changes meanwhile.
 */
export function inspectDescriptor(fd: number, stats: Stats): FileVerdict {
  const refuse = (reason: RefusalReason, detail: string): FileVerdict => ({ kind: 'refused', reason, detail });
  // Refused whatever the mount options or the caller's uid: fail closed.
  if (stats.mode & S_ISUID) return refuse('setuid', stats.uid === 0 ? 'is setuid root' : 'is setuid');
  if (stats.mode & S_ISGID) return refuse('setgid', 'is setgid');
  if (!stats.isFile()) return refuse('unknown-format', 'is not a regular file');
  try {
    const readFile = (offset: number, length: number): Buffer => {
      const buffer = Buffer.allocUnsafe(length);
      return buffer.subarray(0, readSync(fd, buffer, 0, length, offset));
    };
    const head = readFile(0, HEAD_BYTES);
    const id = elfIdent(head);
    if (id) {
      const facts = readElfFacts((offset, length) =>
        offset + length <= head.length ? head.subarray(offset, offset + length) : readFile(offset, length),
      );
      if (!facts) return refuse('unknown-format', 'is a damaged or unsupported ELF file');
      const foreign = foreignArchitecture(head, id.bits, id.little);
      if (foreign) return refuse('unknown-format', foreign);
      // Go first: a static Go program would not be helped by linking it dynamically.
      if (facts.isGo) return refuse('go', 'is a Go program');
      if (!facts.hasInterpreter) return refuse('static', 'is statically linked');
      // Only glibc's dynamic loader applies LD_PRELOAD: a program may name any file as its loader.
      if (facts.interpreter === null || !SYSTEM_LOADERS.has(facts.interpreter))
        return refuse(
          'unknown-format',
          facts.interpreter === null
            ? 'has an unreadable program interpreter, or more than one'
            : `names its own program interpreter (${facts.interpreter}), not the system's dynamic loader, which alone applies LD_PRELOAD`,
        );
      return { kind: 'elf' };
    }
    if (head[0] === 0x23 && head[1] === 0x21)
      return scriptLine(head) ?? refuse('unknown-format', 'has an unusable #! line');
    return refuse('unknown-format', 'is neither an ELF program nor a #! script');
  } catch (error) {
    return refuse('unreadable', `cannot be read (${errorCode(error)})`);
  }
}

/**
 * The #! line as the kernel's binfmt_script reads it (Linux >= 5.0): blanks
 * after "#!" skipped; the interpreter ends at a blank, NUL or newline; the
 * rest of the line, blanks trimmed at both ends, is ONE optional argument
 * (never split); all of it within the first 256 bytes.
 */
function scriptLine(head: Buffer): FileVerdict | null {
  const refuse = (detail: string): FileVerdict => ({ kind: 'refused', reason: 'unknown-format', detail });
  let lineEnd = head.indexOf(0x0a);
  if (lineEnd < 0) {
    if (head.length === HEAD_BYTES) return refuse('has a #! line too long for the kernel');
    lineEnd = head.length;
  }
  let start = 2;
  while (blank(head[start])) start++;
  let end = start;
  while (end < lineEnd && !blank(head[end]) && head[end] !== 0) end++;
  if (end === start) return refuse('has an empty #! line');
  const interpreter = head.toString('latin1', start, end);
  if (!interpreter.startsWith('/')) return refuse(`has a relative #! interpreter (${interpreter})`);
  let argStart = end;
  while (argStart < lineEnd && blank(head[argStart])) argStart++;
  let argEnd = lineEnd;
  while (argEnd > argStart && blank(head[argEnd - 1])) argEnd--;
  const nul = head.indexOf(0, argStart);
  if (nul >= 0 && nul < argEnd) argEnd = nul;
  // latin1 keeps the bytes; non-ASCII interpreter paths are refused by the lookup if they do not exist.
  return {
    kind: 'script',
    interpreter,
    argument: argEnd > argStart ? head.toString('latin1', argStart, argEnd) : null,
  };
}

/** "(through its interpreter /a, then /b) " for a script, "" for the program itself. */
export function through(chain: string[]): string {
  return chain.length > 1 ? `(through its interpreter ${chain.slice(1).join(', then ')}) ` : '';
}
