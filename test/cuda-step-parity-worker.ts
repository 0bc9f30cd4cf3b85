// One pretraining step on a named tfjs backend, for cuda-step-parity.test.ts: builds the model from a
// fixed seed, steps once on fixed features and writes the step's losses and every parameter after
// the Adam step as JSON. Without --out it does nothing (the test runner also loads every file under test/).
//   node dist/test/cuda-step-parity-worker.js --tfjs cpu|cuda --config tiny|small --clips N --out FILE
import fs from 'node:fs';
import { availableBackends, type OpBackend } from '../src/backend.js';
import { makeConfig } from '../src/model/config.js';
import { UniCodeModel } from '../src/model/uniCode.js';
import { Trainer } from '../src/train/trainer.js';
import { initTfjs } from '../src/tfjs.js';
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

function flatten(prefix: string, value: unknown, out: Record<string, number>): void {
  if (typeof value === 'number') out[prefix] = value;
  else if (value !== null && typeof value === 'object') {
    for (const [k, v] of Object.entries(value)) flatten(`${prefix}.${k}`, v, out);
  }
}

function argument(name: string): string | undefined {
  const at = process.argv.indexOf(name);
  return at >= 0 ? process.argv[at + 1] : undefined;
}

async function main(out: string): Promise<void> {
  const tfjs = argument('--tfjs') ?? 'cpu';
  await initTfjs(tfjs as Parameters<typeof initTfjs>[0]);
  // The hot ops run where the backend's tensors live: in CUDA for 'cuda', in the native CPU kernels otherwise.
  const opBackend: OpBackend = tfjs === 'cuda' ? 'cuda' : availableBackends().includes('cpu') ? 'cpu' : 'tfjs';
  const config = argument('--config') === 'small' ? makeConfig('small') : tinyConfig();
  const model = new UniCodeModel(config, { seed: 7, backend: opBackend });
  const grads: Record<string, number[]> = {};
  const trainer = new Trainer(model, {
    progress: false,
    inspectGradients: (groups) => groups.forEach((g) => g.params.forEach((name, i) => {
      grads[name] = Array.from(g.grads[i].dataSync());
    })),
  });
  try {
    const metrics = await trainer.step(featureBatch(config, Number(argument('--clips') ?? 4)));
    const losses: Record<string, number> = {};
    flatten('loss', metrics.loss, losses);
    flatten('clubLoglikeli', metrics.clubLoglikeli, losses);
    const params = Object.fromEntries(model.params.names().map((n) => [n, Array.from(model.params.get(n).dataSync())]));
    const record: StepRecord = { tfjs, opBackend, losses, params, grads };
    fs.writeFileSync(out, JSON.stringify(record));
  } finally {
    trainer.dispose();
    model.dispose();
  }
}

const out = argument('--out');
if (out !== undefined) await main(out);
