// One pretraining step on a named tfjs backend, and the comparison cuda-step-parity.test.ts and the
// device check (bench/cudaDeviceCheck.ts) hold the cuda backend to. As a script it builds the model
// from a fixed seed, steps once on fixed features and writes the step's losses, gradients and every
// parameter after the Adam step as JSON. Without --out it does nothing (the test runner also loads
// every file under test/).
//   node dist/test/cuda-step-parity-worker.js --tfjs cpu|cuda --config tiny|small --clips N --out FILE
import fs from 'node:fs';
import { availableBackends, type OpBackend } from '../src/backend.js';
import { makeConfig } from '../src/model/config.js';
import { UniCodeModel } from '../src/model/uniCode.js';
import { Trainer } from '../src/train/trainer.js';
import { initTfjs, type TfjsKind } from '../src/tfjs.js';
import { featureBatch } from '../bench/kernelInventory.js';
import { tinyConfig } from './train-support.js';

export interface StepRecord {
  tfjs: string;
  opBackend: OpBackend;
  /** Every loss term of the step by name (loss.total, loss.recon.audio, ...). */
  losses: Record<string, number>;
  params: Record<string, number[]>;
  /** Each parameter's gradient before clipping. */
  grads: Record<string, number[]>;
}

export const LOSS_RELATIVE = 1e-4;
// A loss term near zero is compared relative to the size of what it is computed from instead: the
// CLUB MI estimate (~1e-5 on a first step) is a difference of two means of log-likelihoods the size
// of the CLUB log-likelihood of its modality, so float32 rounding of those (~1e-7, seen between
// tfjs cpu and wasm too) is large next to it. Other terms get this floor.
const LOSS_SCALE_FLOOR = 1e-3;
export const PARAM_ABSOLUTE = 1e-4;
// Adam's first step moves a parameter by lr * g / (|g| + 1e-8): about ±lr whatever the gradient's
// size, so where a gradient is float32 rounding noise around a true zero (~1e-8, e.g. the bias of a
// softmax's logits) the parameter may differ by up to 2 lr, as it does between tfjs cpu and wasm.
// Such an element passes when both backends' gradients are below this size.
const NOISE_GRADIENT = 1e-6;

function flatten(prefix: string, value: unknown, out: Record<string, number>): void {
  if (typeof value === 'number') out[prefix] = value;
  else if (value !== null && typeof value === 'object') {
    for (const [k, v] of Object.entries(value)) flatten(`${prefix}.${k}`, v, out);
  }
}

/** One step of the tiny or small AVT config on tfjs `tfjs` (selected here), from seed 7. */
export async function recordOneStep(tfjs: TfjsKind, configName: 'tiny' | 'small', clips: number): Promise<StepRecord> {
  await initTfjs(tfjs);
  // The hot ops run where the backend's tensors live: in CUDA for 'cuda', in the native CPU kernels otherwise.
  const opBackend: OpBackend = tfjs === 'cuda' ? 'cuda' : availableBackends().includes('cpu') ? 'cpu' : 'tfjs';
  const config = configName === 'small' ? makeConfig('small') : tinyConfig();
  const model = new UniCodeModel(config, { seed: 7, backend: opBackend });
  const grads: Record<string, number[]> = {};
  const trainer = new Trainer(model, {
    progress: false,
    inspectGradients: (groups) =>
      groups.forEach((g) =>
        g.params.forEach((name, i) => {
          grads[name] = Array.from(g.grads[i].dataSync());
        }),
      ),
  });
  try {
    const metrics = await trainer.step(featureBatch(config, clips));
    const losses: Record<string, number> = {};
    flatten('loss', metrics.loss, losses);
    flatten('clubLoglikeli', metrics.clubLoglikeli, losses);
    const params = Object.fromEntries(model.params.names().map((n) => [n, Array.from(model.params.get(n).dataSync())]));
    return { tfjs, opBackend, losses, params, grads };
  } finally {
    trainer.dispose();
    model.dispose();
  }
}

/** Names whose values differ beyond `within`, with the worst element of each. */
function differences(
  cpu: Record<string, number[]>,
  cuda: Record<string, number[]>,
  within: (a: number, b: number, name: string, index: number) => boolean,
): string[] {
  const out: string[] = [];
  for (const [name, expected] of Object.entries(cpu)) {
    const actual = cuda[name];
    if (actual === undefined || actual.length !== expected.length) {
      out.push(`${name}: ${actual === undefined ? 'missing' : `${actual.length} values, expected ${expected.length}`}`);
      continue;
    }
    let worst = -1;
    expected.forEach((e, i) => {
      if (within(e, actual[i], name, i)) return;
      if (worst < 0 || Math.abs(e - actual[i]) > Math.abs(expected[worst] - actual[worst])) worst = i;
    });
    if (worst >= 0) out.push(`${name}[${worst}]: cuda ${actual[worst]}, cpu ${expected[worst]}`);
  }
  return out;
}

/** The losses and the parameters after the Adam step of `other` that stray from `cpu`'s. */
export function compareSteps(cpu: StepRecord, other: StepRecord): { losses: string[]; params: string[] } {
  const wrap = (r: Record<string, number>) => Object.fromEntries(Object.entries(r).map(([k, v]) => [k, [v]]));
  const scaleOf = (name: string) => {
    const modality = /^loss\.mi\.(\w+)$/.exec(name)?.[1];
    const components = modality === undefined ? 0 : (cpu.losses[`clubLoglikeli.${modality}`] ?? 0);
    return Math.max(LOSS_SCALE_FLOOR, Math.abs(components));
  };
  const losses = differences(
    wrap(cpu.losses),
    wrap(other.losses),
    (a, b, name) => Math.abs(a - b) <= LOSS_RELATIVE * Math.max(Math.abs(a), Math.abs(b), scaleOf(name)),
  );
  const gradient = (r: StepRecord, name: string, i: number) => Math.abs(r.grads[name]?.[i] ?? Infinity);
  const noiseGradient = (name: string, i: number) =>
    Math.max(gradient(cpu, name, i), gradient(other, name, i)) <= NOISE_GRADIENT;
  const params = differences(
    cpu.params,
    other.params,
    (a, b, name, i) => Math.abs(a - b) <= PARAM_ABSOLUTE || noiseGradient(name, i),
  );
  return { losses, params };
}

function argument(name: string): string | undefined {
  const at = process.argv.indexOf(name);
  return at >= 0 ? process.argv[at + 1] : undefined;
}

const out = argument('--out');
if (out !== undefined) {
  const tfjs = (argument('--tfjs') ?? 'cpu') as TfjsKind;
  const config = argument('--config') === 'small' ? 'small' : 'tiny';
  const record = await recordOneStep(tfjs, config, Number(argument('--clips') ?? 4));
  fs.writeFileSync(out, JSON.stringify(record));
}
