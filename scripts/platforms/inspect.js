// Structural checks of the binaries for macOS (Mach-O), which no machine here runs, and
// Windows (PE), which runs here only under Wine, forgiving what Windows may not. Each
// reader takes the file's bytes and returns what a loader would see; `problems`
// compares that with what targets.js expects and lists every difference (an empty list
// is a pass).
'use strict';

const ENTRY = 'napi_register_module_v1';

// ---- Mach-O (64-bit, little-endian) -------------------------------------------------
const MH_MAGIC_64 = 0xfeedfacf;
const CPU = { 16777223: 'x64', 16777228: 'arm64' };
const FILETYPE = { 6: 'dylib', 8: 'bundle' };
const LC_SYMTAB = 0x2;
const LC_LOAD_DYLIB = 0xc;
const LC_CODE_SIGNATURE = 0x1d;
const LC_VERSION_MIN_MACOSX = 0x24;
const LC_BUILD_VERSION = 0x32;
const PLATFORM_MACOS = 1;
const N_EXT = 0x01;
const N_TYPE = 0x0e;
const N_STAB = 0xe0;
const N_UNDF = 0x0;
const N_SECT = 0xe;
const CSMAGIC_EMBEDDED_SIGNATURE = 0xfade0cc0;
const CSMAGIC_CODEDIRECTORY = 0xfade0c02;
const CS_ADHOC = 0x2;

const cstring = (buf, at, end = buf.length) => {
  let stop = at;
  while (stop < end && buf[stop] !== 0) stop++;
  return buf.toString('latin1', at, stop);
};

const version = (v) => `${v >>> 16}.${(v >>> 8) & 0xff}${v & 0xff ? `.${v & 0xff}` : ''}`;

/** What a Mach-O file holds: its architecture, kind, symbols, minimum macOS, signature. */
function readMachO(buf) {
  if (buf.length < 32 || buf.readUInt32LE(0) !== MH_MAGIC_64) return { format: 'not Mach-O 64-bit' };
  const info = {
    format: 'mach-o',
    arch: CPU[buf.readUInt32LE(4)] || `cputype 0x${buf.readUInt32LE(4).toString(16)}`,
    filetype: FILETYPE[buf.readUInt32LE(12)] || `filetype ${buf.readUInt32LE(12)}`,
    exported: [],
    undefined: [],
    dylibs: [],
    minMacos: null,
    signature: null,
  };
  const ncmds = buf.readUInt32LE(16);
  let at = 32;
  for (let i = 0; i < ncmds; i++) {
    const cmd = buf.readUInt32LE(at) & 0x7fffffff;
    const size = buf.readUInt32LE(at + 4);
    if (cmd === LC_SYMTAB) {
      const [symoff, nsyms, stroff] = [buf.readUInt32LE(at + 8), buf.readUInt32LE(at + 12), buf.readUInt32LE(at + 16)];
      for (let s = 0; s < nsyms; s++) {
        const entry = symoff + s * 16;
        const type = buf[entry + 4];
        if (type & N_STAB || !(type & N_EXT)) continue;
        const name = cstring(buf, stroff + buf.readUInt32LE(entry));
        if ((type & N_TYPE) === N_SECT) info.exported.push(name);
        else if ((type & N_TYPE) === N_UNDF) info.undefined.push(name);
      }
    } else if (cmd === LC_LOAD_DYLIB) {
      info.dylibs.push(cstring(buf, at + buf.readUInt32LE(at + 8), at + size));
    } else if (cmd === LC_BUILD_VERSION && buf.readUInt32LE(at + 8) === PLATFORM_MACOS) {
      info.minMacos = version(buf.readUInt32LE(at + 12));
    } else if (cmd === LC_VERSION_MIN_MACOSX) {
      info.minMacos = version(buf.readUInt32LE(at + 8));
    } else if (cmd === LC_CODE_SIGNATURE) {
      info.signature = readSignature(buf, buf.readUInt32LE(at + 8));
    }
    at += size;
  }
  return info;
}

/** The code signature's kind: 'ad-hoc' when its code directory has the CS_ADHOC flag. */
function readSignature(buf, at) {
  if (buf.readUInt32BE(at) !== CSMAGIC_EMBEDDED_SIGNATURE) return 'no embedded signature';
  const count = buf.readUInt32BE(at + 8);
  for (let i = 0; i < count; i++) {
    const blob = at + buf.readUInt32BE(at + 12 + i * 8 + 4);
    if (buf.readUInt32BE(blob) === CSMAGIC_CODEDIRECTORY) {
      return buf.readUInt32BE(blob + 12) & CS_ADHOC ? 'ad-hoc' : 'signed (not ad-hoc)';
    }
  }
  return 'no code directory';
}

// ---- PE32+ (Windows) ------------------------------------------------------------------
const MACHINE = { 34404: 'x64', 43620: 'arm64', 332: 'ia32' };
const IMAGE_FILE_DLL = 0x2000;
const PE32_PLUS = 0x20b;

/** What a PE file holds: its architecture, whether it is a DLL, exports and imports. */
function readPE(buf) {
  if (buf.length < 64 || buf.toString('latin1', 0, 2) !== 'MZ') return { format: 'not PE' };
  const pe = buf.readUInt32LE(0x3c);
  if (buf.toString('latin1', pe, pe + 4) !== 'PE\0\0') return { format: 'not PE' };
  const coff = pe + 4;
  const sections = buf.readUInt16LE(coff + 2);
  const optionalSize = buf.readUInt16LE(coff + 16);
  const optional = coff + 20;
  const info = {
    format: buf.readUInt16LE(optional) === PE32_PLUS ? 'pe' : 'PE32 (not PE32+)',
    arch: MACHINE[buf.readUInt16LE(coff)] || `machine 0x${buf.readUInt16LE(coff).toString(16)}`,
    dll: (buf.readUInt16LE(coff + 18) & IMAGE_FILE_DLL) !== 0,
    exported: [],
    imports: {},
  };
  if (info.format !== 'pe') return info;
  const table = optional + optionalSize;
  const section = (i) => ({
    va: buf.readUInt32LE(table + i * 40 + 12),
    size: Math.max(buf.readUInt32LE(table + i * 40 + 8), buf.readUInt32LE(table + i * 40 + 16)),
    raw: buf.readUInt32LE(table + i * 40 + 20),
  });
  const offset = (rva) => {
    for (let i = 0; i < sections; i++) {
      const s = section(i);
      if (rva >= s.va && rva < s.va + s.size) return rva - s.va + s.raw;
    }
    throw new Error(`PE: address 0x${rva.toString(16)} is in no section`);
  };
  const directory = (i) => ({ rva: buf.readUInt32LE(optional + 112 + i * 8), size: buf.readUInt32LE(optional + 116 + i * 8) });
  const exports = directory(0);
  if (exports.rva) {
    const dir = offset(exports.rva);
    const names = buf.readUInt32LE(dir + 24);
    const nameTable = offset(buf.readUInt32LE(dir + 32));
    for (let i = 0; i < names; i++) info.exported.push(cstring(buf, offset(buf.readUInt32LE(nameTable + i * 4))));
  }
  const imports = directory(1);
  if (imports.rva) {
    for (let d = offset(imports.rva); buf.readUInt32LE(d + 12) !== 0; d += 20) {
      const dll = cstring(buf, offset(buf.readUInt32LE(d + 12)));
      const thunks = buf.readUInt32LE(d) || buf.readUInt32LE(d + 16);
      const names = [];
      for (let t = offset(thunks); ; t += 8) {
        const lo = buf.readUInt32LE(t);
        const hi = buf.readUInt32LE(t + 4);
        if (lo === 0 && hi === 0) break;
        names.push(hi & 0x80000000 ? `#${lo & 0xffff}` : cstring(buf, offset(lo) + 2));
      }
      info.imports[dll] = names;
    }
  }
  return info;
}

// Windows' own DLLs, and the C runtime every Windows 10 and later carries.
const SYSTEM_DLL =
  /^(kernel32|ntdll|advapi32|bcrypt|bcryptprimitives|userenv|ws2_32|shell32|ole32|user32|synchronization|msvcrt|api-ms-win-[a-z0-9-]+)\.dll$/i;

/** Every way the binary in `buf` differs from what `expected` (a targets.js check) asks. */
function problems(buf, expected) {
  const found = [];
  const want = (ok, what) => {
    if (!ok) found.push(what);
  };
  if (expected.format === 'mach-o') {
    const m = readMachO(buf);
    if (m.format !== 'mach-o') return [`format: ${m.format}`];
    want(m.arch === expected.arch, `architecture ${m.arch}, expected ${expected.arch}`);
    want(m.filetype === 'dylib' || m.filetype === 'bundle', `file type ${m.filetype}, expected a dylib or bundle`);
    want(m.exported.includes(`_${ENTRY}`), `_${ENTRY} is not exported`);
    const napi = m.undefined.filter((s) => s.startsWith('_napi_'));
    want(napi.length === 0, `undefined napi symbols: ${napi.slice(0, 3).join(', ')} (${napi.length})`);
    const node = m.dylibs.filter((d) => /node/i.test(d));
    want(node.length === 0, `links ${node.join(', ')}`);
    want(m.minMacos === expected.minMacos, `minimum macOS ${m.minMacos}, expected ${expected.minMacos}`);
    if (expected.adhoc) want(m.signature === 'ad-hoc', `signature: ${m.signature || 'none'}, expected ad-hoc`);
    return found;
  }
  if (expected.format === 'pe') {
    const p = readPE(buf);
    if (p.format !== 'pe') return [`format: ${p.format}`];
    want(p.arch === expected.arch, `architecture ${p.arch}, expected ${expected.arch}`);
    want(p.dll, 'not a DLL');
    want(p.exported.length === 1 && p.exported[0] === ENTRY, `exports ${JSON.stringify(p.exported.slice(0, 5))}, expected only ${ENTRY}`);
    const foreign = Object.keys(p.imports).filter((d) => !SYSTEM_DLL.test(d));
    want(foreign.length === 0, `imports from non-system DLLs: ${foreign.join(', ')}`);
    const napi = Object.values(p.imports)
      .flat()
      .filter((s) => s.startsWith('napi_'));
    want(napi.length === 0, `imports napi functions: ${napi.slice(0, 3).join(', ')} (${napi.length})`);
    return found;
  }
  throw new Error(`no structural check for format ${expected.format}`);
}

module.exports = { readMachO, readPE, problems };
