// `unicode-cmg info`: what was compiled in, what this machine offers, and which backends the ops
// and tfjs will use.

import * as os from 'node:os';
import { defineCommand } from '../args.js';
import { packageVersion } from '../version.js';

export const info = defineCommand({
  name: 'info',
  summary: 'Show the native build, CUDA/CPU runtime and the selected compute backends.',
  description: 'The op backend follows UCMG_BACKEND (cuda|cpu|tfjs), the tfjs backend UCMG_TFJS_BACKEND (wasm|cpu) and the dense kernels UCMG_DENSE (native|tfjs) when set.',
  options: {
    json: { kind: 'flag', description: 'print one JSON object instead of text' },
  },
  examples: ['info', 'info --json'],
  async run(options) {
    const { backendInfo } = await import('../../backend.js');
    const { initTfjs } = await import('../../tfjs.js');
    const { setupDense } = await import('../commonOptions.js');
    await initTfjs();
    await setupDense(undefined, 'info');
    const details = backendInfo();
    const report = {
      version: packageVersion(),
      node: process.version,
      platform: `${os.platform()} ${os.arch()}`,
      ...details,
    };
    if (options.json) {
      process.stdout.write(`${JSON.stringify(report, null, 2)}\n`);
      return;
    }
    const compiled = details.compiled;
    const native = compiled === null
      ? `not loaded (${details.nativeLoadFailures.join('; ') || 'no reason given'})`
      : [
          'loaded',
          compiled.blas ? `BLAS: ${compiled.blas}` : 'BLAS: portable fallback',
          `OpenMP: ${compiled.openmp ? 'yes' : 'no'}`,
          `CUDA: ${compiled.cuda ? `sm_${compiled.cudaArchitectures.join(', sm_')}` : 'not compiled'}`,
        ].join(', ');
    const { gpu, computeCapability, memoryBytes, cpuThreads } = details.runtime;
    const gpuText = gpu === null
      ? `none (${details.cudaUnusableReason ?? 'no reason given'})`
      : `${gpu}${computeCapability ? `, compute ${computeCapability}` : ''}${memoryBytes ? `, ${(memoryBytes / 2 ** 30).toFixed(1)} GiB` : ''}${details.cudaUnusableReason ? ` (unusable: ${details.cudaUnusableReason})` : ''}`;
    const rows: [string, string][] = [
      ['version', `unicode-cmg ${report.version} (Node ${report.node}, ${report.platform})`],
      ['op backend', `${details.selected}${process.env.UCMG_BACKEND ? ' (from UCMG_BACKEND)' : ''}`],
      ['tfjs backend', details.tfjsBackend],
      ['dense kernels', details.denseKernels.enabled
        ? `native on tfjs ${details.denseKernels.backends.join(', ')} (${details.denseKernels.kernels.length} kernels)${process.env.UCMG_DENSE ? ' (from UCMG_DENSE)' : ''}`
        : `tfjs's own (${details.denseKernels.reason ?? 'no reason given'})`],
      ['native addon', native],
      ['GPU', gpuText],
      ['CPU threads', String(cpuThreads)],
    ];
    const width = Math.max(...rows.map(([k]) => k.length)) + 2;
    process.stdout.write(rows.map(([k, v]) => `${`${k}:`.padEnd(width)}${v}`).join('\n') + '\n');
  },
});
