// The four hot ops (docs/algorithm.md §6) on every available backend: native CUDA and CPU, tfjs on wasm and
// on its pure-JS cpu backend. Paper size (B=80, T=10, D=256, M=400, K=3), quantize at scale and
// InfoNCE at B=1024 and 8192; then ratios between backends of this run and the speed targets.
import { availableBackends, backendInfo, cudaUnusableReason, nativeBinding, type OpBackend } from '../src/backend.js';
import { codeMatchingLoss, infoNceLoss, mmEmaStep, quantize, type CodebookState } from '../src/ops/index.js';
import { initTfjs, tf, type TfjsKind } from '../src/tfjs.js';
import { type CaseSpec, Ledger, measure } from './harness.js';

interface Target {
  label: string;
  op: OpBackend;
  tfjs: TfjsKind;
}

const PAPER = { b: 80, t: 10, d: 256, m: 400, k: 3 };
const MODALITY_WEIGHTS = [
  [0.1, 1, 1],
  [1, 0.1, 1],
  [1, 1, 0.1],
];

interface Prepared {
  body: () => void;
  dispose: () => void;
}
interface BenchCase extends CaseSpec {
  prepare: (op: OpBackend) => Prepared;
}

/** Uniform [-1, 1) data from a fixed xorshift stream; cached so big inputs are made once per run. */
const dataCache = new Map<string, Float32Array>();
function uniform(count: number, stream: number): Float32Array {
  const key = `${count}/${stream}`;
  let data = dataCache.get(key);
  if (data === undefined) {
    data = new Float32Array(count);
    let x = (0x9e3779b9 ^ Math.imul(stream + 1, 0x85ebca6b)) >>> 0 || 1;
    for (let i = 0; i < count; i++) {
      x ^= x << 13;
      x >>>= 0;
      x ^= x >>> 17;
      x ^= x << 5;
      x >>>= 0;
      data[i] = x / 2147483648 - 1;
    }
    dataCache.set(key, data);
  }
  return data;
}

function quantizeCase(n: number, m: number, d: number, label: string): BenchCase {
  return {
    name: `quantize ${label}`,
    family: 'quantize',
    flops: 2 * n * m * d,
    prepare: (op) => {
      const z = tf.tensor2d(uniform(n * d, 1), [n, d]);
      const codebook = tf.tensor2d(uniform(m * d, 2), [m, d]);
      return {
        body: () => {
          const out = quantize(z, codebook, { backend: op });
          out.indices.dispose();
          out.distances.dispose();
        },
        dispose: () => tf.dispose([z, codebook]),
      };
    },
  };
}

function mmEmaCase(): BenchCase {
  const { b, t, d, m, k } = PAPER;
  const n = b * t;
  return {
    name: `mmEmaStep paper K=${k} N=${n} M=${m} D=${d}`,
    family: 'mmEma',
    flops: k * k * n * d,
    prepare: (op) => {
      const e = uniform(m * d, 3);
      const state: CodebookState = {
        embedding: e,
        emaCount: new Float32Array(m).fill(1),
        emaWeight: e.slice(),
        unusedCount: new Int32Array(m),
        m,
        d,
      };
      const z = Array.from({ length: k }, (_, i) => tf.tensor2d(uniform(n * d, 10 + i), [n, d]));
      const indices = z.map((_, i) =>
        tf.tensor1d(
          Int32Array.from(uniform(n, 20 + i), (v) => Math.floor(((v + 1) * m) / 2)),
          'int32',
        ),
      );
      return {
        body: () => {
          mmEmaStep(state, z, indices, { seed: 1, segmentsPerClip: t, backend: op });
        },
        dispose: () => tf.dispose([...z, ...indices]),
      };
    },
  };
}

function codeMatchingCase(): BenchCase {
  const { b, t, d, m, k } = PAPER;
  return {
    name: `codeMatchingLoss fwd+bwd paper K=${k} B=${b} T=${t} M=${m} D=${d}`,
    family: 'codeMatching',
    flops: 3 * k * 2 * b * t * m * d,
    prepare: (op) => {
      const z = Array.from({ length: k }, (_, i) => tf.tensor3d(uniform(b * t * d, 30 + i), [b, t, d]));
      const codebook = tf.tensor2d(uniform(m * d, 4), [m, d]);
      const grad = tf.grads((...x: tf.Tensor[]) => codeMatchingLoss(x as tf.Tensor3D[], codebook, { backend: op }));
      return {
        body: () =>
          tf.tidy(() => {
            grad(z).forEach((g) => g.dataSync());
          }),
        dispose: () => tf.dispose([...z, codebook]),
      };
    },
  };
}

function infoNceCase(b: number, label: string): BenchCase {
  const { d, k } = PAPER;
  return {
    name: `infoNceLoss fwd+bwd ${label}K=${k} B=${b} D=${d}`,
    family: 'infoNce',
    flops: 3 * k * k * 2 * b * b * d,
    skipReason: (backend) =>
      backend === 'tfjs wasm' && b > 4096
        ? `the gradient tape would hold ${k * k} score matrices of ${b}x${b} and their softmaxes ` +
          `(~${((3 * k * k * b * b * 4) / 2 ** 30).toFixed(0)} GB), beyond tfjs-wasm's 4 GB heap`
        : undefined,
    prepare: (op) => {
      const inputs = Array.from({ length: 2 * k }, (_, i) => tf.tensor2d(uniform(b * d, 40 + i), [b, d]));
      const grad = tf.grads(
        (...x: tf.Tensor[]) =>
          infoNceLoss(x.slice(0, k) as tf.Tensor2D[], x.slice(k) as tf.Tensor2D[], MODALITY_WEIGHTS, { backend: op })
            .loss,
      );
      return {
        body: () =>
          tf.tidy(() => {
            grad(inputs).forEach((g) => g.dataSync());
          }),
        dispose: () => tf.dispose(inputs),
      };
    },
  };
}

const TARGET_CASE: BenchCase = { ...quantizeCase(65536, 1024, 256, 'N=65536 M=1024 D=256'), required: true };

const CASES: BenchCase[] = [
  quantizeCase(PAPER.b * PAPER.t, PAPER.m, PAPER.d, `paper N=${PAPER.b * PAPER.t} M=${PAPER.m} D=${PAPER.d}`),
  mmEmaCase(),
  codeMatchingCase(),
  infoNceCase(PAPER.b, 'paper '),
  TARGET_CASE,
  quantizeCase(65536, 8192, 256, 'N=65536 M=8192 D=256'),
  quantizeCase(1 << 20, 1024, 256, 'N=1M M=1024 D=256'),
  quantizeCase(1 << 20, 8192, 256, 'N=1M M=8192 D=256'),
  infoNceCase(1024, ''),
  infoNceCase(8192, ''),
];

function targets(): Target[] {
  const native = availableBackends();
  return [
    ...(native.includes('cuda') ? [{ label: 'cuda', op: 'cuda' as const, tfjs: 'wasm' as const }] : []),
    ...(native.includes('cpu') ? [{ label: 'native cpu', op: 'cpu' as const, tfjs: 'wasm' as const }] : []),
    { label: 'tfjs wasm', op: 'tfjs', tfjs: 'wasm' },
    { label: 'tfjs cpu', op: 'tfjs', tfjs: 'cpu' },
  ];
}

function checkTarget(ledger: Ledger, against: string, factor: number): string {
  const native = ledger.get(TARGET_CASE.name, 'native cpu');
  const other = ledger.get(TARGET_CASE.name, against);
  const what = `native cpu >= ${factor}x ${against} on ${TARGET_CASE.name}`;
  if (native === undefined || other === undefined || !('opsPerSecond' in native) || !('opsPerSecond' in other)) {
    return `${what}: not measured`;
  }
  const ratio = native.opsPerSecond / other.opsPerSecond;
  return `${what}: ${ratio.toFixed(1)}x, ${ratio >= factor ? 'met' : 'MISSED'}`;
}

/** CUDA timings without host transfers (events around device-resident inputs), vs docs/algorithm.md §6 anchors. */
function cudaDeviceTimings(): void {
  const binding = nativeBinding();
  if (binding === null || cudaUnusableReason() !== undefined) return;
  const median = (xs: number[]) => [...xs].sort((a, c) => a - c)[Math.floor(xs.length / 2)];
  const rows: [string, 'quantize' | 'avtStep' | 'infoNce', Record<string, number>, string][] = [
    ['quantize N=1M M=1024 D=256', 'quantize', { n: 1 << 20, m: 1024, d: 256 }, 'torch addmm+argmin 19.7 ms'],
    ['quantize N=131072 M=65536 D=256', 'quantize', { n: 131072, m: 65536, d: 256 }, 'torch 150 ms'],
    ['AVT codebook step B=80 T=10 M=400', 'avtStep', { b: 80, t: 10, d: 256, m: 400 }, 'torch vectorised 5.6 ms'],
    ['9 InfoNCE matrices fwd+bwd B=80', 'infoNce', { b: 80, d: 256, k: 3 }, 'torch 2.7 ms'],
    ['9 InfoNCE matrices fwd+bwd B=8192', 'infoNce', { b: 8192, d: 256, k: 3 }, 'torch 25.8 ms'],
  ];
  console.log('\nCUDA, device-resident (median of 20 runs):');
  for (const [name, op, params, anchor] of rows) {
    console.log(`  ${name.padEnd(36)} ${median(binding.cudaTime(op, params, 20)).toFixed(3)} ms   (${anchor})`);
  }
}

export async function run(): Promise<void> {
  await initTfjs('wasm');
  const info = backendInfo();
  console.log(
    `ops benchmark: ${info.runtime.cpuThreads} CPU threads, BLAS ${info.compiled?.blas ?? 'n/a'}, ` +
      `GPU ${info.runtime.gpu ?? 'none'}`,
  );
  if (info.compiled === null) console.log(`  native addon unavailable: ${info.nativeLoadFailures.join('; ')}`);
  if (info.cudaUnusableReason !== undefined) console.log(`  no CUDA: ${info.cudaUnusableReason.split('\n')[0]}`);

  const ledger = new Ledger();
  for (const spec of CASES) {
    for (const target of targets()) {
      const skip = ledger.predictSkip(spec, target.label);
      if (skip !== undefined) {
        console.log(`${spec.name} [${target.label}]: skipped, ${skip}`);
        ledger.record(spec, target.label, { skipped: skip });
        continue;
      }
      await initTfjs(target.tfjs);
      const prepared = spec.prepare(target.op);
      try {
        ledger.record(
          spec,
          target.label,
          await measure(`${spec.name} [${target.label}]`, prepared.body, ledger.predictedSeconds(spec, target.label)),
        );
      } finally {
        prepared.dispose();
      }
    }
  }

  console.log('\n==== ops: results of this run (ratios: this backend is N times as fast as the named one) ====');
  ledger.print(['tfjs cpu', 'tfjs wasm', 'native cpu']);
  console.log('\nTargets:');
  console.log(`  ${checkTarget(ledger, 'tfjs cpu', 20)}`);
  console.log(`  ${checkTarget(ledger, 'tfjs wasm', 3)}`);
  cudaDeviceTimings();
  await initTfjs('wasm');
}
