// `unicode-cmg build-native`: compiles the native addon from the sources the package ships, for
// platforms without a prebuilt package or to get CUDA kernels for this machine's toolchain.

import { type OptionSpecs, type ParsedOptions, defineCommand } from '../args.js';

const options = {
  cuda: {
    kind: 'choice',
    choices: ['AUTO', 'ON', 'OFF'],
    description:
      'compile the CUDA kernels; AUTO: only when nvcc and an NVIDIA driver are present ' +
      '[default: UCMG_CUDA, else AUTO]',
  },
} as const satisfies OptionSpecs;

export type BuildNativeOptions = ParsedOptions<typeof options>;

export const buildNative = defineCommand({
  name: 'build-native',
  summary: 'Compile the native addon here (needs cmake, a C++ compiler and libopenblas-dev).',
  description: [
    'A clean cmake-js build of build/Release/unicode_cmg.node inside the installed package, which',
    'the loader tries after the prebuilt packages. Exits non-zero when the build fails.',
  ].join('\n'),
  options,
  examples: ['build-native', 'build-native --cuda OFF'],
  load: () => import('./buildNativeRun.js'),
});
