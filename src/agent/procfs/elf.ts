/**
 * Just enough ELF to answer two questions about an executable or library,
 * reading bounded pieces of the file (never all of a 100 MB binary at once):
 *
 * - which libraries it needs (DT_NEEDED, DT_SONAME), so the libraries the
 *   dynamic linker mapped at exec can be told from ones dlopen()ed later;
 * - whether a TLS stack is compiled in: Go `crypto/tls` (the build-info magic
 *   `\xff Go buildinf:`, a `.gopclntab`, and `crypto/tls.(*Conn)` function
 *   names in it), OpenSSL/BoringSSL linked statically (defined, exported
 *   `SSL_CTX_new`, as in node; or version strings), rustls (strings).
 *
 * Results are cached per (device, inode, size, mtime).
 */
import { closeSync, fstatSync, openSync, readSync } from 'node:fs';

export interface ElfFacts {
  isElf: boolean;
  needed: string[];
  soname: string | null;
  /** A Go binary (build info or pclntab found). */
  go: boolean;
  /** `go`, `openssl-static`, `boringssl`, `libressl-static`, `rustls`, or null. */
  staticTls: string | null;
  /** Short notes on what was found (`.go.buildinfo`, `crypto/tls.(*Conn) in .gopclntab`, …). */
  evidence: string[];
}

const NOT_ELF: ElfFacts = { isElf: false, needed: [], soname: null, go: false, staticTls: null, evidence: [] };

const GO_BUILDINFO = Buffer.from('\xff Go buildinf:', 'latin1');
const GO_TLS = Buffer.from('crypto/tls.(*Conn).');
const MAX_SCAN = 96 * 1024 * 1024;
const CHUNK = 4 * 1024 * 1024;

interface Section {
  name: string;
  type: number;
  addr: bigint;
  offset: number;
  size: number;
  link: number;
  entsize: number;
}

interface Segment {
  type: number;
  offset: number;
  vaddr: bigint;
  filesz: number;
}

class ElfFile {
  readonly is64: boolean;
  readonly le: boolean;
  readonly sections: Section[] = [];
  readonly segments: Segment[] = [];

  constructor(readonly fd: number, readonly size: number, hdr: Buffer) {
    this.is64 = hdr[4] === 2;
    this.le = hdr[5] === 1;
    const phoff = this.off(hdr, this.is64 ? 32 : 28);
    const shoff = this.off(hdr, this.is64 ? 40 : 32);
    const phentsize = this.u16(hdr, this.is64 ? 54 : 42);
    const phnum = this.u16(hdr, this.is64 ? 56 : 44);
    const shentsize = this.u16(hdr, this.is64 ? 58 : 46);
    const shnum = this.u16(hdr, this.is64 ? 60 : 48);
    const shstrndx = this.u16(hdr, this.is64 ? 62 : 50);
    if (phoff > 0 && phnum > 0 && phentsize >= (this.is64 ? 56 : 32) && phoff + phnum * phentsize <= size) {
      const ph = this.read(phoff, phnum * phentsize);
      for (let i = 0; i < phnum; i++) {
        const b = i * phentsize;
        if (this.is64) {
          this.segments.push({ type: this.u32(ph, b), offset: Number(this.u64(ph, b + 8)), vaddr: this.u64(ph, b + 16), filesz: Number(this.u64(ph, b + 32)) });
        } else {
          this.segments.push({ type: this.u32(ph, b), offset: this.u32(ph, b + 4), vaddr: BigInt(this.u32(ph, b + 8)), filesz: this.u32(ph, b + 16) });
        }
      }
    }
    if (shoff > 0 && shnum > 0 && shnum < 65280 && shentsize >= (this.is64 ? 64 : 40) && shoff + shnum * shentsize <= size) {
      const sh = this.read(shoff, shnum * shentsize);
      const raw: (Section & { nameOff: number })[] = [];
      for (let i = 0; i < shnum; i++) {
        const b = i * shentsize;
        if (this.is64) {
          raw.push({ nameOff: this.u32(sh, b), name: '', type: this.u32(sh, b + 4), addr: this.u64(sh, b + 16), offset: Number(this.u64(sh, b + 24)), size: Number(this.u64(sh, b + 32)), link: this.u32(sh, b + 40), entsize: Number(this.u64(sh, b + 56)) });
        } else {
          raw.push({ nameOff: this.u32(sh, b), name: '', type: this.u32(sh, b + 4), addr: BigInt(this.u32(sh, b + 12)), offset: this.u32(sh, b + 16), size: this.u32(sh, b + 20), link: this.u32(sh, b + 24), entsize: this.u32(sh, b + 36) });
        }
      }
      const strSec = raw[shstrndx];
      const names = strSec && strSec.offset + strSec.size <= size ? this.read(strSec.offset, Math.min(strSec.size, 1 << 20)) : Buffer.alloc(0);
      for (const s of raw) {
        const end = names.indexOf(0, s.nameOff);
        s.name = s.nameOff < names.length ? names.toString('latin1', s.nameOff, end < 0 ? names.length : end) : '';
        this.sections.push(s);
      }
    }
  }

  private off(b: Buffer, at: number): number {
    return this.is64 ? Number(this.u64(b, at)) : this.u32(b, at);
  }
  u16(b: Buffer, at: number): number {
    return this.le ? b.readUInt16LE(at) : b.readUInt16BE(at);
  }
  u32(b: Buffer, at: number): number {
    return this.le ? b.readUInt32LE(at) : b.readUInt32BE(at);
  }
  u64(b: Buffer, at: number): bigint {
    return this.le ? b.readBigUInt64LE(at) : b.readBigUInt64BE(at);
  }

  read(offset: number, length: number): Buffer {
    const len = Math.max(0, Math.min(length, this.size - offset));
    const buf = Buffer.allocUnsafe(len);
    let got = 0;
    while (got < len) {
      const n = readSync(this.fd, buf, got, len - got, offset + got);
      if (n <= 0) break;
      got += n;
    }
    return got === len ? buf : buf.subarray(0, got);
  }

  section(name: string): Section | undefined {
    return this.sections.find((s) => s.name === name);
  }

  /** File offset of a virtual address, through PT_LOAD segments. */
  vaddrToOffset(v: bigint): number | null {
    for (const s of this.segments) {
      if (s.type === 1 && v >= s.vaddr && v < s.vaddr + BigInt(s.filesz)) return s.offset + Number(v - s.vaddr);
    }
    return null;
  }

  /** Search [offset, offset+length) for any needle, chunk by chunk. */
  scan(offset: number, length: number, needles: Buffer[]): Set<number> {
    const found = new Set<number>();
    const end = Math.min(this.size, offset + Math.min(length, MAX_SCAN));
    const overlap = Math.max(...needles.map((n) => n.length));
    for (let pos = offset; pos < end && found.size < needles.length; pos += CHUNK) {
      const buf = this.read(pos, Math.min(CHUNK + overlap, end - pos));
      needles.forEach((n, i) => {
        if (!found.has(i) && buf.indexOf(n) >= 0) found.add(i);
      });
    }
    return found;
  }
}

/** DT_NEEDED and DT_SONAME, from .dynamic or (no section headers) PT_DYNAMIC. */
function dynamicInfo(e: ElfFile): { needed: string[]; soname: string | null } {
  let dyn: Buffer | null = null;
  let strtab: Buffer | null = null;
  const dynSec = e.sections.find((s) => s.type === 6);
  if (dynSec) {
    dyn = e.read(dynSec.offset, Math.min(dynSec.size, 1 << 20));
    const str = e.sections[dynSec.link];
    if (str) strtab = e.read(str.offset, Math.min(str.size, 16 << 20));
  } else {
    const seg = e.segments.find((s) => s.type === 2);
    if (seg) dyn = e.read(seg.offset, Math.min(seg.filesz, 1 << 20));
  }
  if (!dyn) return { needed: [], soname: null };
  const ent = e.is64 ? 16 : 8;
  const neededOffs: number[] = [];
  let sonameOff = -1;
  let strVaddr: bigint | null = null;
  let strSize = 0;
  for (let p = 0; p + ent <= dyn.length; p += ent) {
    const tag = e.is64 ? Number(e.u64(dyn, p)) : e.u32(dyn, p);
    const val = e.is64 ? e.u64(dyn, p + 8) : BigInt(e.u32(dyn, p + 4));
    if (tag === 0) break;
    if (tag === 1) neededOffs.push(Number(val));
    else if (tag === 14) sonameOff = Number(val);
    else if (tag === 5) strVaddr = val;
    else if (tag === 10) strSize = Number(val);
  }
  if (!strtab && strVaddr !== null) {
    const off = e.vaddrToOffset(strVaddr);
    if (off !== null) strtab = e.read(off, Math.min(strSize || 1 << 16, 16 << 20));
  }
  if (!strtab) return { needed: [], soname: null };
  const str = (o: number): string | null => {
    if (o < 0 || o >= strtab!.length) return null;
    const end = strtab!.indexOf(0, o);
    return strtab!.toString('latin1', o, end < 0 ? strtab!.length : end);
  };
  const needed = neededOffs.map(str).filter((s): s is string => !!s && s.length < 256).slice(0, 512);
  return { needed, soname: sonameOff >= 0 ? str(sonameOff) : null };
}

/** An exported (defined) dynamic symbol with one of these names. */
function definesDynamic(e: ElfFile, names: string[]): string | null {
  const dynsym = e.sections.find((s) => s.type === 11);
  if (!dynsym) return null;
  const dynstr = e.sections[dynsym.link];
  if (!dynstr) return null;
  const str = e.read(dynstr.offset, Math.min(dynstr.size, 32 << 20));
  const wanted = new Map<number, string>();
  for (const n of names) {
    const needle = Buffer.from(`\0${n}\0`, 'latin1');
    const at = str.indexOf(needle);
    if (at >= 0) wanted.set(at + 1, n);
  }
  if (wanted.size === 0) return null;
  const ent = dynsym.entsize || (e.is64 ? 24 : 16);
  const syms = e.read(dynsym.offset, Math.min(dynsym.size, 32 << 20));
  for (let p = 0; p + ent <= syms.length; p += ent) {
    const nameOff = e.u32(syms, p);
    const name = wanted.get(nameOff);
    if (name === undefined) continue;
    const shndx = e.is64 ? e.u16(syms, p + 6) : e.u16(syms, p + 14);
    if (shndx !== 0) return name;
  }
  return null;
}

const TLS_LIB_RE = /^(libssl|libgnutls|libnss3|libssl3|libmbedtls|libwolfssl|libtls|libs2n|librustls|libboringssl)\./;

function analyzeOpen(e: ElfFile, path: string): ElfFacts {
  const evidence: string[] = [];
  const { needed, soname } = dynamicInfo(e);
  // Go
  let go = false;
  let goTls = false;
  const bi = e.section('.go.buildinfo');
  if (bi) {
    const head = e.read(bi.offset, 32);
    if (head.indexOf(GO_BUILDINFO) === 0) evidence.push('.go.buildinfo');
    go = true;
  }
  const pcln = e.section('.gopclntab') ?? e.section('.data.rel.ro.gopclntab');
  if (pcln) {
    go = true;
    evidence.push(pcln.name);
    if (e.scan(pcln.offset, pcln.size, [GO_TLS]).size > 0) {
      goTls = true;
      evidence.push(`crypto/tls.(*Conn) in ${pcln.name}`);
    }
  }
  if (!go && e.sections.length === 0) {
    // section headers stripped: bounded scan of the file
    const hits = e.scan(0, e.size, [GO_BUILDINFO, GO_TLS]);
    if (hits.has(0)) {
      go = true;
      evidence.push('build-info magic');
      if (hits.has(1)) {
        goTls = true;
        evidence.push('crypto/tls.(*Conn) string');
      }
    }
  } else if (!go) {
    for (const name of ['.data', '.noptrdata', '.data.rel.ro']) {
      const s = e.section(name);
      if (s && e.scan(s.offset, Math.min(s.size, 1 << 20), [GO_BUILDINFO]).size > 0) {
        go = true;
        evidence.push(`build-info magic in ${name}`);
        if (e.scan(0, e.size, [GO_TLS]).size > 0) {
          goTls = true;
          evidence.push('crypto/tls.(*Conn) string');
        }
        break;
      }
    }
  }
  if (go) return { isElf: true, needed, soname, go, staticTls: goTls ? 'go' : null, evidence };

  // A TLS library itself, or a program that links one: nothing static to report.
  if (TLS_LIB_RE.test(soname ?? '') || needed.some((n) => TLS_LIB_RE.test(n))) {
    return { isElf: true, needed, soname, go, staticTls: null, evidence };
  }
  let staticTls: string | null = null;
  const sym = definesDynamic(e, ['SSL_CTX_new', 'SSL_do_handshake', 'SSL_connect']);
  const ro = e.section('.rodata');
  const needles = [Buffer.from('BoringSSL'), Buffer.from('LibreSSL '), Buffer.from('OpenSSL 1.'), Buffer.from('OpenSSL 3.'), Buffer.from('rustls')];
  const hits = ro ? e.scan(ro.offset, ro.size, needles) : e.sections.length === 0 ? e.scan(0, e.size, needles) : new Set<number>();
  if (sym) evidence.push(`exports ${sym}`);
  if (hits.has(0)) evidence.push('BoringSSL string');
  if (hits.has(1)) evidence.push('LibreSSL string');
  if (hits.has(2) || hits.has(3)) evidence.push('OpenSSL version string');
  if (hits.has(4)) evidence.push('rustls string');
  if (hits.has(0)) staticTls = 'boringssl';
  else if (sym && hits.has(1)) staticTls = 'libressl-static';
  else if (sym) staticTls = 'openssl-static';
  else if (hits.has(4)) staticTls = 'rustls';
  void path;
  return { isElf: true, needed, soname, go, staticTls, evidence };
}

interface CacheEntry {
  key: string;
  facts: ElfFacts;
}
const cache = new Map<string, CacheEntry>();
const dynCache = new Map<string, { needed: string[]; soname: string | null }>();
const CACHE_MAX = 4096;

/** Only DT_NEEDED/DT_SONAME (cheap; no string scans), cached per file identity. */
export function elfDynamic(path: string): { needed: string[]; soname: string | null } {
  let fd: number;
  try {
    fd = openSync(path, 'r');
  } catch {
    return { needed: [], soname: null };
  }
  try {
    const st = fstatSync(fd);
    if (!st.isFile() || st.size < 64) return { needed: [], soname: null };
    const key = `${st.dev}:${st.ino}:${st.size}:${st.mtimeMs}`;
    const full = cache.get(key);
    if (full) return { needed: full.facts.needed, soname: full.facts.soname };
    const hit = dynCache.get(key);
    if (hit) return hit;
    const hdr = Buffer.alloc(64);
    readSync(fd, hdr, 0, 64, 0);
    let out: { needed: string[]; soname: string | null } = { needed: [], soname: null };
    if (hdr[0] === 0x7f && hdr[1] === 0x45 && hdr[2] === 0x4c && hdr[3] === 0x46 && (hdr[4] === 1 || hdr[4] === 2)) {
      try {
        out = dynamicInfo(new ElfFile(fd, st.size, hdr));
      } catch {
        /* malformed */
      }
    }
    if (dynCache.size >= CACHE_MAX) dynCache.delete(dynCache.keys().next().value as string);
    dynCache.set(key, out);
    return out;
  } catch {
    return { needed: [], soname: null };
  } finally {
    closeSync(fd);
  }
}

/** Facts about the ELF file at `path` (for a process: `/proc/<pid>/exe` works even when the path is gone). */
export function analyzeElf(path: string): ElfFacts {
  let fd: number;
  try {
    fd = openSync(path, 'r');
  } catch {
    return NOT_ELF;
  }
  try {
    const st = fstatSync(fd);
    if (!st.isFile() || st.size < 64) return NOT_ELF;
    const key = `${st.dev}:${st.ino}:${st.size}:${st.mtimeMs}`;
    const hit = cache.get(key);
    if (hit) {
      cache.delete(key);
      cache.set(key, hit);
      return hit.facts;
    }
    const hdr = Buffer.alloc(64);
    readSync(fd, hdr, 0, 64, 0);
    let facts: ElfFacts = NOT_ELF;
    if (hdr[0] === 0x7f && hdr[1] === 0x45 && hdr[2] === 0x4c && hdr[3] === 0x46 && (hdr[4] === 1 || hdr[4] === 2)) {
      try {
        facts = analyzeOpen(new ElfFile(fd, st.size, hdr), path);
      } catch {
        facts = { ...NOT_ELF, isElf: true, evidence: ['malformed ELF'] };
      }
    }
    if (cache.size >= CACHE_MAX) cache.delete(cache.keys().next().value as string);
    cache.set(key, { key, facts });
    return facts;
  } catch {
    return NOT_ELF;
  } finally {
    closeSync(fd);
  }
}
