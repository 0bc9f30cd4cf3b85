#!/usr/bin/env node
// Checks that a prebuilt unicode_cmg.node loads on every glibc >= 2.28 (the floor of the
// prebuilt packages): it may need only the C runtime's own libraries, no GLIBC symbol version
// above the floor, and none of libstdc++ / libgcc_s (those are linked statically).
//
//   node scripts/release/check-glibc.mjs <file.node> [--floor 2.28]
//
// Reads `objdump -p` (NEEDED libraries, version references) and `objdump -T` (which symbol
// needs which version, to name the culprits). Exits 1 with one line per problem.
import { spawnSync } from 'node:child_process';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

/** The libraries every glibc system has; anything else must be linked in. */
const SYSTEM_LIBRARIES = new Set([
  'libc.so.6',
  'libm.so.6',
  'libpthread.so.0',
  'libdl.so.2',
  'librt.so.1',
  'ld-linux-x86-64.so.2',
]);

function objdump(flag, file) {
  const result = spawnSync('objdump', [flag, file], { encoding: 'utf8', maxBuffer: 1 << 28 });
  if (result.error) throw new Error(`objdump could not run (${result.error.message}); install binutils`);
  if (result.status !== 0) throw new Error(`objdump ${flag} ${file} failed: ${result.stderr.trim()}`);
  return result.stdout;
}

const versionNumbers = (version) => version.split('.').map(Number);

function newerThan(version, floor) {
  const [a, b] = [versionNumbers(version), versionNumbers(floor)];
  for (let i = 0; i < Math.max(a.length, b.length); i++) {
    if ((a[i] ?? 0) !== (b[i] ?? 0)) return (a[i] ?? 0) > (b[i] ?? 0);
  }
  return false;
}

/**
 * The problems that keep `file` from loading on glibc `floor`: an empty list when it will load.
 * Also returns the highest GLIBC version it needs.
 */
export function checkGlibcFloor(file, floor = '2.28') {
  const headers = objdump('-p', file);
  const problems = [];
  for (const [, library] of headers.matchAll(/^\s*NEEDED\s+(\S+)$/gm)) {
    if (!SYSTEM_LIBRARIES.has(library)) problems.push(`needs ${library}, which is not part of glibc`);
  }
  const symbolsByVersion = new Map();
  const dynamicSymbols = objdump('-T', file);
  for (const [, version, symbol] of dynamicSymbols.matchAll(/\*UND\*\s+\S+\s+\(?([A-Z_]+[0-9.]+)\)?\s+(\S+)$/gm)) {
    symbolsByVersion.set(version, [...(symbolsByVersion.get(version) ?? []), symbol]);
  }
  // A strong unversioned reference must be node's own (N-API); anything else (a GOMP_* entry
  // point that native/compat/gomp.c lacks, say) would fail when first called.
  const unresolved = [...dynamicSymbols.matchAll(/^[0-9a-f]+ {6}DF?\s+\*UND\*\s+[0-9a-f]+\s+Base\s+(\S+)$/gm)]
    .map(([, symbol]) => symbol)
    .filter((symbol) => !/^(napi|node_api)_/.test(symbol));
  if (unresolved.length > 0) problems.push(`leaves undefined: ${unresolved.join(', ')}`);
  let highest = '0';
  const references = headers.slice(headers.indexOf('Version References:'));
  for (const [, version] of references.matchAll(/^\s+0x[0-9a-f]+ 0x[0-9a-f]+ \d+ (\S+)$/gm)) {
    const symbols = (symbolsByVersion.get(version) ?? []).join(', ') || 'no symbol named';
    const glibc = /^GLIBC_([0-9.]+)$/.exec(version);
    if (glibc === null) {
      problems.push(`needs ${version} (${symbols}), not a glibc version: link that runtime statically`);
    } else if (newerThan(glibc[1], floor)) {
      problems.push(`needs ${version} > GLIBC_${floor}: ${symbols}`);
    }
    if (glibc !== null && newerThan(glibc[1], highest)) highest = glibc[1];
  }
  return { problems, highestGlibc: highest };
}

function main(argv) {
  const file = argv.find((arg) => !arg.startsWith('--'));
  const floorAt = argv.indexOf('--floor');
  const floor = floorAt >= 0 ? argv[floorAt + 1] : '2.28';
  if (file === undefined || floor === undefined) {
    console.error('usage: node scripts/release/check-glibc.mjs <file.node> [--floor 2.28]');
    return 2;
  }
  const { problems, highestGlibc } = checkGlibcFloor(file, floor);
  if (problems.length > 0) {
    console.error(`${file} would not load on glibc ${floor}:\n${problems.map((p) => `  - ${p}`).join('\n')}`);
    return 1;
  }
  console.log(`${file}: loads on glibc >= ${floor} (highest version needed: GLIBC_${highestGlibc})`);
  return 0;
}

if (process.argv[1] && path.resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  process.exitCode = main(process.argv.slice(2));
}
