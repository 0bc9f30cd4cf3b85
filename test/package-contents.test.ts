// What `npm pack` ships: the library, its build sources and docs, and none of the tests, CI,
// device scripts or source maps; no install script; prebuilt package templates fit for npm's
// os/cpu/libc selection.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { describe, it } from 'node:test';
import { PREBUILT_PACKAGES } from '../src/native/loader.js';

const root = new URL('../../', import.meta.url);
const manifest = JSON.parse(readFileSync(new URL('package.json', root), 'utf8'));

/** The file list of the tarball `npm pack` would write now (dist/ as last compiled). */
function packedFiles(): string[] {
  const pack = spawnSync('npm', ['pack', '--dry-run', '--json', '--ignore-scripts'], {
    cwd: root,
    encoding: 'utf8',
  });
  assert.equal(pack.status, 0, pack.stderr);
  const [result] = JSON.parse(pack.stdout) as [{ files: { path: string }[] }];
  return result.files.map((file) => file.path).sort();
}

describe('package tarball', () => {
  const files = packedFiles();

  it('holds the library, the build sources for build-native, the docs and the licence', () => {
    const required = [
      'package.json',
      'README.md',
      'LICENSE',
      'CMakeLists.txt',
      'scripts/build-native.mjs',
      'dist/src/index.js',
      'dist/src/index.d.ts',
      'dist/src/cli/main.js',
      'dist/src/native/loader.js',
      'config/av-fashion.json',
      'native/include/ucmg/ops.h',
      'native/compat/glibc_2_28.c',
      'docs/releasing.md',
      'docs/dataset-format.md',
    ];
    assert.deepEqual(
      required.filter((file) => !files.includes(file)),
      [],
      'missing from the tarball',
    );
    assert.ok(
      files.some((file) => file.startsWith('native/cpu/')),
      'native/cpu/ sources',
    );
  });

  it('holds no tests, CI, benchmarks, device scripts or source maps', () => {
    const forbidden = files.filter(
      (file) =>
        /^(test|dist\/test|dist\/bench|dist\/examples|bench|examples|\.ci|packages|release)\//.test(file) ||
        /\.map$/.test(file) ||
        file.startsWith('native/cuda/emulation/') ||
        ['scripts/check-cuda.mjs', 'scripts/device-check.sh'].includes(file),
    );
    assert.deepEqual(forbidden, []);
  });

  it('lists no unpublished package: npm ci works in a source checkout', () => {
    // release:local adds the prebuilt packages as optionalDependencies to the packed manifest only.
    assert.equal(manifest.optionalDependencies, undefined);
  });

  it('runs no install script and builds dist/ when packed', () => {
    const scripts = manifest.scripts as Record<string, string>;
    for (const hook of ['preinstall', 'install', 'postinstall', 'prepare']) {
      assert.equal(scripts[hook], undefined, `scripts.${hook} would run in every consumer's install`);
    }
    assert.match(scripts.prepack, /\btsc\b/);
  });

  it('exports one ESM entry with its types', () => {
    assert.equal(manifest.type, 'module');
    assert.deepEqual(manifest.exports['.'], {
      types: './dist/src/index.d.ts',
      import: './dist/src/index.js',
      default: './dist/src/index.js',
    });
  });
});

describe('prebuilt package templates', () => {
  for (const template of ['linux-x64', 'linux-x64-cuda']) {
    it(`packages/${template} ships only the addon, for linux x64 glibc, as an optional dependency`, () => {
      const platform = JSON.parse(readFileSync(new URL(`packages/${template}/package.json`, root), 'utf8'));
      assert.equal(platform.name, `unicode-cmg-${template}`);
      assert.deepEqual([platform.os, platform.cpu, platform.libc], [['linux'], ['x64'], ['glibc']]);
      assert.deepEqual(platform.files, ['unicode_cmg.node']);
      assert.equal(platform.scripts, undefined);
      assert.ok(Object.values(PREBUILT_PACKAGES).includes(platform.name), `the loader tries ${platform.name}`);
    });
  }
});
