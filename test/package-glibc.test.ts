// The glibc floor of the prebuilt addons: every .node that release:local packs must load on
// glibc >= 2.28, which scripts/release/check-glibc.mjs reads off its symbol versions.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';

const root = new URL('../../', import.meta.url);
const checker = fileURLToPath(new URL('scripts/release/check-glibc.mjs', root));
const hasObjdump = spawnSync('objdump', ['--version']).status === 0;

function check(file: string) {
  const result = spawnSync(process.execPath, [checker, file, '--floor', '2.28'], { encoding: 'utf8' });
  return { status: result.status, output: result.stdout + result.stderr };
}

describe('glibc floor of the prebuilt addons', () => {
  for (const variant of ['release-cpu', 'release-cuda']) {
    const file = fileURLToPath(new URL(`build/${variant}/Release/unicode_cmg.node`, root));
    const skip = !hasObjdump
      ? 'objdump (binutils) is not installed'
      : !existsSync(file)
        ? `${file} is not built (npm run release:local builds it)`
        : false;
    it(`build/${variant} needs nothing above GLIBC_2.28 and no shared C++ runtime`, { skip }, () => {
      const { status, output } = check(file);
      assert.equal(status, 0, output);
      assert.match(output, /highest version needed: GLIBC_2\.(1?\d|2[0-8])\b/);
    });
  }

  // The dev build (build/Release) links libstdc++ and OpenMP dynamically: the check must say so.
  const devBuild = fileURLToPath(new URL('build/Release/unicode_cmg.node', root));
  const devSkip = !hasObjdump
    ? 'objdump (binutils) is not installed'
    : !existsSync(devBuild)
      ? `${devBuild} is not built`
      : false;
  it('names what keeps a non-portable build from loading', { skip: devSkip }, () => {
    const { status, output } = check(devBuild);
    assert.equal(status, 1, output);
    assert.match(output, /needs libstdc\+\+\.so\.6, which is not part of glibc/);
    assert.match(output, /needs GLIBCXX_3\.4[.\d]* \(.+\), not a glibc version/);
  });
});
