// readElfFacts on handcrafted ELF images: every class and byte order, with and
// without a program interpreter, with each sign of Go, and damaged in every
// way a short or random file can be (never a throw, never an unbounded read).
import { describe, expect, it } from 'vitest';
import { readElfFacts } from '../../src/preflight/inspect-binary';

type Bits = 32 | 64;

interface Section {
  name: string;
  /** Contents (PROGBITS), or omitted for an empty NOBITS-less section. */
  data?: Buffer;
  type?: number;
}

interface Spec {
  bits: Bits;
  little: boolean;
  interp?: boolean;
  /** A second PT_INTERP (the kernel takes one; a checker must not trust the other). */
  secondInterp?: boolean;
  /** A PT_NOTE segment with a Go build ID note. */
  goNote?: boolean;
  /** Section headers (none: e_shoff = 0, as after sstrip). */
  sections?: Section[];
  phentsize?: number;
}

/** A minimal ELF executable image: header, program headers, data, section headers. */
function makeElf(spec: Spec): Buffer {
  const { bits, little } = spec;
  const is64 = bits === 64;
  const out = Buffer.alloc(4096);
  const w16 = (at: number, v: number) => (little ? out.writeUInt16LE(v, at) : out.writeUInt16BE(v, at));
  const w32 = (at: number, v: number) => (little ? out.writeUInt32LE(v >>> 0, at) : out.writeUInt32BE(v >>> 0, at));
  const word = (at: number, v: number) => {
    if (!is64) return w32(at, v);
    const big = BigInt(v);
    return little ? out.writeBigUInt64LE(big, at) : out.writeBigUInt64BE(big, at);
  };
  const ehsize = is64 ? 64 : 52;
  const phentsize = is64 ? 56 : 32;
  const shentsize = is64 ? 64 : 40;

  // Data first (after the header and room for 3 program headers).
  let cursor = ehsize + 3 * phentsize;
  const put = (data: Buffer, align = 4): number => {
    cursor = Math.ceil(cursor / align) * align;
    data.copy(out, cursor);
    const at = cursor;
    cursor += data.length;
    return at;
  };

  const phdrs: Array<{ type: number; offset: number; size: number; align: number }> = [
    { type: 1, offset: 0, size: 0, align: 4096 },
  ];
  if (spec.interp) {
    const path = Buffer.from('/lib/ld-linux.so.2\0');
    phdrs.push({ type: 3, offset: put(path, 1), size: path.length, align: 1 });
  }
  if (spec.secondInterp) {
    const path = Buffer.from('/lib64/ld-linux-x86-64.so.2\0');
    phdrs.push({ type: 3, offset: put(path, 1), size: path.length, align: 1 });
  }
  if (spec.goNote) {
    const note = Buffer.alloc(12 + 4 + 8);
    const n32 = (at: number, v: number) => (little ? note.writeUInt32LE(v, at) : note.writeUInt32BE(v, at));
    n32(0, 4);
    n32(4, 8);
    n32(8, 4); // NT_GO_BUILDID
    note.write('Go\0\0', 12, 'latin1');
    note.write('buildid!', 16, 'latin1');
    // A GNU note first, as real binaries have.
    const gnu = Buffer.alloc(12 + 4 + 4);
    const g32 = (at: number, v: number) => (little ? gnu.writeUInt32LE(v, at) : gnu.writeUInt32BE(v, at));
    g32(0, 4);
    g32(4, 4);
    g32(8, 3);
    gnu.write('GNU\0', 12, 'latin1');
    const both = Buffer.concat([gnu, note]);
    phdrs.push({ type: 4, offset: put(both), size: both.length, align: 4 });
  }

  let shoff = 0;
  let shnum = 0;
  let shstrndx = 0;
  if (spec.sections) {
    const all = [...spec.sections, { name: '.shstrtab', type: 3 }];
    const names = Buffer.from(`\0${all.map((s) => `${s.name}\0`).join('')}`, 'latin1');
    const placed = all.map((s, i) => {
      const nameAt = 1 + all.slice(0, i).reduce((n, t) => n + Buffer.byteLength(t.name, 'latin1') + 1, 0);
      const data = s.name === '.shstrtab' ? names : (('data' in s ? s.data : undefined) ?? Buffer.alloc(0));
      return { nameAt, type: s.type ?? 1, offset: data.length ? put(data) : 0, size: data.length };
    });
    shoff = Math.ceil(cursor / 8) * 8;
    shnum = placed.length + 1; // + the null section
    shstrndx = placed.length;
    placed.forEach((s, i) => {
      const at = shoff + (i + 1) * shentsize;
      w32(at, s.nameAt);
      w32(at + 4, s.type);
      word(at + (is64 ? 24 : 16), s.offset);
      word(at + (is64 ? 32 : 20), s.size);
    });
    cursor = shoff + shnum * shentsize;
  }

  out.write('\x7fELF', 0, 'latin1');
  out[4] = is64 ? 2 : 1;
  out[5] = little ? 1 : 2;
  out[6] = 1;
  w16(16, 2); // ET_EXEC
  w16(18, is64 ? 62 : 3);
  w32(20, 1);
  word(is64 ? 32 : 28, ehsize); // e_phoff
  word(is64 ? 40 : 32, shoff);
  w16(is64 ? 52 : 40, ehsize);
  w16(is64 ? 54 : 42, spec.phentsize ?? phentsize);
  w16(is64 ? 56 : 44, phdrs.length);
  w16(is64 ? 58 : 46, shentsize);
  w16(is64 ? 60 : 48, shnum);
  w16(is64 ? 62 : 50, shstrndx);
  phdrs.forEach((p, i) => {
    const at = ehsize + i * phentsize;
    w32(at, p.type);
    if (is64) {
      word(at + 8, p.offset);
      word(at + 32, p.size);
      word(at + 40, p.size);
      word(at + 48, p.align);
    } else {
      w32(at + 4, p.offset);
      w32(at + 16, p.size);
      w32(at + 20, p.size);
      w32(at + 28, p.align);
    }
  });
  return out.subarray(0, Math.max(cursor, ehsize + phdrs.length * phentsize));
}

/** READ over an in-memory image, recording every request. */
function reader(image: Buffer, requests: Array<[number, number]> = []) {
  return (offset: number, length: number): Buffer => {
    requests.push([offset, length]);
    return image.subarray(offset, offset + length);
  };
}

const facts = (image: Buffer) => readElfFacts(reader(image));

const FORMATS: Array<{ bits: Bits; little: boolean; label: string }> = [
  { bits: 32, little: true, label: '32-bit little-endian' },
  { bits: 32, little: false, label: '32-bit big-endian' },
  { bits: 64, little: true, label: '64-bit little-endian' },
  { bits: 64, little: false, label: '64-bit big-endian' },
];

const PLAIN_SECTIONS: Section[] = [
  { name: '.interp' },
  { name: '.text', data: Buffer.from('code') },
  { name: '.data.rel.ro', data: Buffer.alloc(32, 1) },
  { name: '.noptrdata', data: Buffer.alloc(32, 2) },
];
const MAGIC = Buffer.from('\xff Go buildinf:\x08\x02', 'latin1');

describe.each(FORMATS)('readElfFacts, $label', ({ bits, little }) => {
  it("reads PT_INTERP's path: the loader that will apply LD_PRELOAD, or not", () => {
    expect(facts(makeElf({ bits, little, interp: true }))?.interpreter).toBe('/lib/ld-linux.so.2');
    expect(facts(makeElf({ bits, little, interp: false }))?.interpreter).toBeNull();
    // Two: neither is trusted.
    expect(facts(makeElf({ bits, little, interp: true, secondInterp: true }))).toMatchObject({
      hasInterpreter: true,
      interpreter: null,
    });
  });

  it('sees PT_INTERP (dynamic) and its absence (static, static-pie)', () => {
    expect(facts(makeElf({ bits, little, interp: true, sections: PLAIN_SECTIONS }))).toMatchObject({
      hasInterpreter: true,
      isGo: false,
    });
    expect(facts(makeElf({ bits, little, interp: false, sections: PLAIN_SECTIONS }))).toMatchObject({
      hasInterpreter: false,
      isGo: false,
    });
    expect(facts(makeElf({ bits, little, interp: true }))).toMatchObject({ hasInterpreter: true, isGo: false });
  });

  it.each(['.note.go.buildid', '.go.buildinfo', '.gopclntab'])('takes a section named %s for Go', (name) => {
    const sections = [...PLAIN_SECTIONS, { name, data: Buffer.from('whatever') }];
    expect(facts(makeElf({ bits, little, interp: true, sections }))).toMatchObject({
      hasInterpreter: true,
      isGo: true,
    });
    expect(facts(makeElf({ bits, little, interp: false, sections }))).toMatchObject({
      hasInterpreter: false,
      isGo: true,
    });
  });

  it.each(['.data.rel.ro', '.noptrdata'])('takes the Go build-info magic at the start of %s for Go', (name) => {
    const sections = [
      { name: '.text', data: Buffer.from('code') },
      { name, data: Buffer.concat([MAGIC, Buffer.alloc(16)]) },
    ];
    expect(facts(makeElf({ bits, little, interp: true, sections }))?.isGo).toBe(true);
  });

  it('ignores the magic elsewhere, and names that only look like Go sections', () => {
    const magicElsewhere = [
      { name: '.rodata', data: MAGIC },
      { name: '.data.rel.ro', data: Buffer.concat([Buffer.alloc(16), MAGIC]) },
    ];
    expect(facts(makeElf({ bits, little, interp: true, sections: magicElsewhere }))?.isGo).toBe(false);
    const lookalikes = ['.note.go.buildid2', '.gopclntab.x', 'go.buildinfo', '.note.go'].map((name) => ({
      name,
      data: Buffer.from('x'),
    }));
    expect(facts(makeElf({ bits, little, interp: true, sections: lookalikes }))?.isGo).toBe(false);
  });

  it('finds the Go build ID note in a PT_NOTE segment when there are no section headers', () => {
    expect(facts(makeElf({ bits, little, interp: true, goNote: true }))).toMatchObject({
      hasInterpreter: true,
      isGo: true,
    });
  });

  it('refuses a program header size the kernel would refuse (null)', () => {
    expect(facts(makeElf({ bits, little, interp: true, phentsize: bits === 64 ? 32 : 56 }))).toBeNull();
  });

  it('never throws on any truncation: null, or no interpreter, or the full answer', () => {
    const whole = makeElf({
      bits,
      little,
      interp: true,
      goNote: true,
      sections: [...PLAIN_SECTIONS, { name: '.gopclntab', data: Buffer.from('x') }],
    });
    expect(facts(whole)).toMatchObject({ hasInterpreter: true, isGo: true });
    const headerSize = bits === 64 ? 64 : 52;
    for (let length = 0; length < whole.length; length++) {
      const result = facts(whole.subarray(0, length));
      if (length < headerSize) expect(result).toBeNull();
      else if (result !== null)
        expect(typeof result.hasInterpreter === 'boolean' && typeof result.isGo === 'boolean').toBe(true);
    }
  });
});

describe('readElfFacts on what is not ELF', () => {
  it.each([
    ['nothing', Buffer.alloc(0)],
    ['a script', Buffer.from('#!/bin/sh\necho hi\n')],
    ['the magic alone', Buffer.from('\x7fELF', 'latin1')],
    ['an unknown class', Buffer.concat([Buffer.from('\x7fELF\x03\x01\x01', 'latin1'), Buffer.alloc(64)])],
    ['an unknown byte order', Buffer.concat([Buffer.from('\x7fELF\x02\x00\x01', 'latin1'), Buffer.alloc(64)])],
    ['a PE file', Buffer.concat([Buffer.from('MZ'), Buffer.alloc(200)])],
    ['zeros', Buffer.alloc(4096)],
  ])('%s: null', (_label, image) => {
    expect(facts(image)).toBeNull();
  });
});

describe('readElfFacts on garbage', () => {
  // A small deterministic PRNG (mulberry32), so a failure can be replayed.
  function prng(seed: number): () => number {
    let a = seed;
    return () => {
      a = (a + 0x6d2b79f5) | 0;
      let t = Math.imul(a ^ (a >>> 15), 1 | a);
      t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
      return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
    };
  }

  it('never throws and never asks for more than 1 MiB at once, whatever the header and tables say', () => {
    const random = prng(20240601);
    for (const { bits, little } of FORMATS) {
      const base = makeElf({
        bits,
        little,
        interp: true,
        goNote: true,
        sections: [...PLAIN_SECTIONS, { name: '.gopclntab', data: Buffer.from('x') }],
      });
      for (let round = 0; round < 1500; round++) {
        const image = Buffer.from(base);
        const flips = 1 + Math.floor(random() * 8);
        for (let i = 0; i < flips; i++) {
          // Mostly in the header and program headers, where offsets and sizes live.
          const at = Math.floor(random() < 0.7 ? random() * Math.min(256, image.length) : random() * image.length);
          image[at] = random() < 0.3 ? 0xff : Math.floor(random() * 256);
        }
        const requests: Array<[number, number]> = [];
        const result = readElfFacts(reader(image, requests));
        expect(
          result === null || (typeof result.hasInterpreter === 'boolean' && typeof result.isGo === 'boolean'),
        ).toBe(true);
        for (const [offset, length] of requests) {
          expect(Number.isSafeInteger(offset) && offset >= 0).toBe(true);
          expect(length).toBeLessThanOrEqual(1 << 20);
        }
      }
    }
  });

  it('bounds huge declared sizes and offsets (64-bit fields beyond 2^53)', () => {
    const image = makeElf({ bits: 64, little: true, interp: true, sections: PLAIN_SECTIONS });
    image.writeBigUInt64LE(0xffff_ffff_ffff_fff0n, 40); // e_shoff
    expect(facts(image)).toMatchObject({ hasInterpreter: true, isGo: false });
    image.writeBigUInt64LE(0xffff_ffff_ffff_fff0n, 32); // e_phoff
    expect(facts(image)).toBeNull();
  });

  it('reads only the header and the tables it needs from a big image', () => {
    const image = Buffer.concat([
      makeElf({ bits: 64, little: true, interp: true, sections: PLAIN_SECTIONS }),
      Buffer.alloc(8 << 20),
    ]);
    const requests: Array<[number, number]> = [];
    expect(readElfFacts(reader(image, requests))).toMatchObject({ hasInterpreter: true, isGo: false });
    expect(requests.reduce((sum, [, length]) => sum + length, 0)).toBeLessThan(8192);
  });
});
