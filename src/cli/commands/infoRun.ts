// The body of `unicode-cmg info`.

import * as os from 'node:os';
import { backendInfo } from '../../backend.js';
import { initTfjs } from '../../tfjs.js';
import { setupDense } from '../computeSetup.js';
import { packageVersion } from '../version.js';
import type { InfoOptions } from './info.js';

export async function run(options: InfoOptions): Promise<void> {
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
  const native =
    compiled === null
      ? `not loaded (${details.nativeLoadFailures.join('; ') || 'no reason given'})`
      : [
          'loaded',
          compiled.blas ? `BLAS: ${compiled.blas}` : 'BLAS: portable fallback',
          `OpenMP: ${compiled.openmp ? 'yes' : 'no'}`,
          `CUDA: ${compiled.cuda ? `sm_${compiled.cudaArchitectures.join(', sm_')}` : 'not compiled'}`,
        ].join(', ');
  const { gpu, computeCapability, memoryBytes, cpuThreads } = details.runtime;
  const gpuText =
    gpu === null
      ? `none (${details.cudaUnusableReason ?? 'no reason given'})`
      : `${gpu}${computeCapability ? `, compute ${computeCapability}` : ''}${memoryBytes ? `, ${(memoryBytes / 2 ** 30).toFixed(1)} GiB` : ''}${details.cudaUnusableReason ? ` (unusable: ${details.cudaUnusableReason})` : ''}`;
  const rows: [string, string][] = [
    ['version', `unicode-cmg ${report.version} (Node ${report.node}, ${report.platform})`],
    ['op backend', `${details.selected}${process.env.UCMG_BACKEND ? ' (from UCMG_BACKEND)' : ''}`],
    ['tfjs backend', details.tfjsBackend],
    [
      'dense kernels',
      details.denseKernels.enabled
        ? `native on tfjs ${details.denseKernels.backends.join(', ')} (${details.denseKernels.kernels.length} kernels)${process.env.UCMG_DENSE ? ' (from UCMG_DENSE)' : ''}`
        : `tfjs's own (${details.denseKernels.reason ?? 'no reason given'})`,
    ],
    ['native addon', native],
    ['GPU', gpuText],
    ['CPU threads', String(cpuThreads)],
    [
      'data parallel',
      details.mpi.built
        ? `${details.mpi.library} (mpirun -np N unicode-cmg pretrain ...)`
        : `no MPI (${details.mpi.reason})`,
    ],
  ];
  const width = Math.max(...rows.map(([k]) => k.length)) + 2;
  process.stdout.write(`${rows.map(([k, v]) => `${`${k}:`.padEnd(width)}${v}`).join('\n')}\n`);
}
