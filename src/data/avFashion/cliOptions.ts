// The options of the `build-av-fashion` sub-command, declared here next to the builder they feed
// (in the shape src/cli/args.ts takes), and their translation into builder options.
import type { BuildAvFashionOptions } from './builder.js';
import type { AvFashionOverrides } from './config.js';

export const DEFAULT_AV_FASHION_DIR = 'data/av-fashion';

export function describeAvFashionOptions() {
  return {
    out: {
      kind: 'string',
      short: 'o',
      valueName: 'dir',
      default: DEFAULT_AV_FASHION_DIR,
      description: 'dataset directory to write',
    },
    force: { kind: 'flag', description: 'replace a non-empty --out directory' },
    config: {
      kind: 'string',
      valueName: 'file',
      description:
        'JSON file with any part of the build config (words per class, voices per split, ...), merged over config/av-fashion.json',
    },
    clips: {
      kind: 'int',
      min: 1,
      valueName: 'n',
      description: "clips to build [default: the config's numClips, 1000]",
    },
    seed: {
      kind: 'int',
      min: 0,
      valueName: 'n',
      description: "seed of every random choice of the build [default: the config's seed, 0]",
    },
    'fashion-mnist': {
      kind: 'string',
      valueName: 'dir',
      description:
        'Fashion-MNIST directory [default: /usr/share/datasets/fashion-mnist, from apt package dataset-fashion-mnist]',
    },
    espeak: {
      kind: 'string',
      valueName: 'binary',
      description: 'espeak-ng binary [default: espeak-ng on PATH, from apt package espeak-ng]',
    },
    'feature-dtype': {
      kind: 'choice',
      choices: ['float16', 'float32'],
      description: "storage dtype of the features [default: the config's, float16]",
    },
  } as const;
}

export interface AvFashionCliValues {
  out: string;
  force: boolean;
  config?: string;
  clips?: number;
  seed?: number;
  'fashion-mnist'?: string;
  espeak?: string;
  'feature-dtype'?: string;
}

/** Builder options from parsed command-line values: flags override the config file, which overrides the defaults. */
export function avFashionOptionsFromCli(values: AvFashionCliValues): BuildAvFashionOptions {
  const sources = {
    ...(values['fashion-mnist'] !== undefined ? { fashionMnistDir: values['fashion-mnist'] } : {}),
    ...(values.espeak !== undefined ? { espeak: values.espeak } : {}),
  };
  const overrides: AvFashionOverrides = {
    ...(values.clips !== undefined ? { numClips: values.clips } : {}),
    ...(values.seed !== undefined ? { seed: values.seed } : {}),
    ...(values['feature-dtype'] !== undefined
      ? { featureDtype: values['feature-dtype'] as 'float16' | 'float32' }
      : {}),
    ...(Object.keys(sources).length > 0 ? { sources } : {}),
  };
  return {
    out: values.out,
    force: values.force,
    ...(values.config !== undefined ? { configFile: values.config } : {}),
    overrides,
  };
}
