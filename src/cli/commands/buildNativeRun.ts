// The body of `unicode-cmg build-native`: runs the package's scripts/build-native.mjs.

import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import type { BuildNativeOptions } from './buildNative.js';

/** Next to dist/ in a source checkout and in the installed package alike. */
const BUILD_SCRIPT = fileURLToPath(new URL('../../../../scripts/build-native.mjs', import.meta.url));

export async function run(options: BuildNativeOptions): Promise<void> {
  const env = { ...process.env };
  if (options.cuda !== undefined) env.UCMG_CUDA = options.cuda;
  const status = await new Promise<number>((resolve, reject) => {
    const child = spawn(process.execPath, [BUILD_SCRIPT, '--force'], { stdio: 'inherit', env });
    child.on('error', reject);
    child.on('exit', (code, signal) => resolve(code ?? (signal ? 1 : 0)));
  });
  if (status !== 0) throw new Error('the native build failed (the reason is above)');
}
