// Runs tfjs-core's own kernel test suite (the jasmine specs in @tensorflow/tfjs-core/dist/*_test.js,
// which every tfjs backend is held to) against one named backend, in this process, and prints the
// counts as one JSON line. tfjs-core-suite.test.ts runs it in a child process:
//   node dist/test/tfjs-core-suite-runner.js --backend cpu [--all] [--grep TEXT] [--failures N]
// Without --all, only the suites of kernels the backend registers run: a suite is kept when its
// describe name is a kernel's name (conv2d ~ Conv2D) or an alias below. Without --backend it does
// nothing (the test runner also loads every file under test/).
import { createRequire, register } from 'node:module';

export interface SuiteCounts {
  backend: string;
  /** Suites kept by the kernel filter (or every suite of the backend with --all). */
  suites: string[];
  passed: number;
  failed: number;
  /** Specs tfjs-core itself marks pending (xit, pending()). */
  pending: number;
  /** Specs of suites outside the filter. */
  excluded: number;
  failures: { spec: string; message: string }[];
  seconds: number;
}

/** Describe names that are not a kernel's name but test one (tfjs op name -> kernel name). */
export const SUITE_KERNEL_ALIASES: Record<string, string[]> = {
  matmul: ['BatchMatMul'],
  dot: ['BatchMatMul'],
  outerproduct: ['BatchMatMul'],
  fusedmatmul: ['_FusedMatMul'],
  fusedconv2d: ['FusedConv2D'],
  fuseddepthwiseconv2d: ['FusedDepthwiseConv2D'],
  conv2dtranspose: ['Conv2DBackpropInput'],
  conv3dtranspose: ['Conv3DBackpropInputV2'],
  sub: ['Sub'],
  mul: ['Multiply'],
  div: ['RealDiv'],
  pow: ['Pow'],
  tensorscatterupdate: ['TensorScatterUpdate'],
  onehot: ['OneHot'],
  avgpool: ['AvgPool'],
  maxpool: ['MaxPool'],
  relu6: ['Relu6'],
  clipbyvalue: ['ClipByValue'],
  logsoftmax: ['LogSoftmax'],
  softmax: ['Softmax'],
  sigmoid: ['Sigmoid'],
  transpose: ['Transpose'],
  slice: ['Slice'],
  stridedslice: ['StridedSlice'],
  stack: ['Pack'],
  unstack: ['Unpack'],
  concat: ['Concat'],
  squareddifference: ['SquaredDifference'],
  zeroslike: ['ZerosLike'],
  oneslike: ['OnesLike'],
  argmax: ['ArgMax'],
  argmin: ['ArgMin'],
};

/** Normalised form for comparing a describe name with a kernel name. */
export function normaliseName(name: string): string {
  return name.toLowerCase().replace(/[^a-z0-9]/g, '');
}

/** Whether the suite `describeName` tests one of `kernels`. */
export function suiteTestsKernel(describeName: string, kernels: ReadonlySet<string>): boolean {
  const key = normaliseName(describeName);
  const aliases = SUITE_KERNEL_ALIASES[key] ?? [];
  return aliases.some((k) => kernels.has(k)) || [...kernels].some((k) => normaliseName(k) === key);
}

interface JasmineSpec {
  getFullName(): string;
}
interface JasmineResult {
  fullName: string;
  status: string;
  failedExpectations: { message: string }[];
}
interface JasmineEnv {
  configure(options: Record<string, unknown>): void;
  addReporter(reporter: Record<string, (result: JasmineResult) => void>): void;
  execute(ids?: unknown, done?: () => void): void;
}

function argument(name: string): string | undefined {
  const at = process.argv.indexOf(name);
  return at >= 0 ? process.argv[at + 1] : undefined;
}

async function main(backend: string): Promise<void> {
  const started = performance.now();
  const require = createRequire(import.meta.url);
  register(new URL('./tfjs-core-suite-hooks.js', import.meta.url));
  // jasmine-core's Node boot puts describe / it / expect / jasmine on the global object.
  const jasmineRequire = require('jasmine-core');
  const jasmine = jasmineRequire.boot(jasmineRequire) as { getEnv(): JasmineEnv; DEFAULT_TIMEOUT_INTERVAL: number };
  jasmine.DEFAULT_TIMEOUT_INTERVAL = 60_000;
  const { initTfjs, tf } = await import('../src/tfjs.js');
  await initTfjs(backend as Parameters<typeof initTfjs>[0]);
  const kernels = new Set(tf.getKernelsForBackend(backend).map((k) => k.kernelName));
  const coreDist = require.resolve('@tensorflow/tfjs-core/package.json').replace(/package\.json$/, 'dist/');
  const jasmineUtil = await import(`file://${coreDist}jasmine_util.js`);
  jasmineUtil.setTestEnvs([{ name: backend, backendName: backend, isDataSync: true }]);

  const all = process.argv.includes('--all');
  const grep = argument('--grep');
  const envMarker = ` ${backend} {`;
  const suites = new Set<string>();
  let excluded = 0;
  const env = jasmine.getEnv();
  env.configure({
    random: false,
    specFilter: (spec: JasmineSpec) => {
      const name = spec.getFullName();
      const at = name.indexOf(envMarker);
      // Specs outside describeWithFlags test tfjs-core itself, not a backend.
      const describeName = at > 0 ? name.slice(0, at) : undefined;
      const keep =
        describeName !== undefined &&
        (all || suiteTestsKernel(describeName, kernels)) &&
        (grep === undefined || name.includes(grep));
      if (keep) suites.add(describeName!);
      else excluded++;
      return keep;
    },
  });
  const counts: SuiteCounts = {
    backend,
    suites: [],
    passed: 0,
    failed: 0,
    pending: 0,
    excluded: 0,
    failures: [],
    seconds: 0,
  };
  const maxFailures = Number(argument('--failures') ?? 200);
  env.addReporter({
    specDone: (result) => {
      if (result.status === 'passed') counts.passed++;
      else if (result.status === 'failed') {
        counts.failed++;
        if (counts.failures.length < maxFailures) {
          const message = (result.failedExpectations[0]?.message ?? '').slice(0, 300);
          counts.failures.push({ spec: result.fullName, message });
        }
      } else if (result.status === 'pending') counts.pending++;
    },
  });
  await import(`file://${coreDist}tests.js`);
  await new Promise<void>((done) => env.execute(undefined, done));
  counts.suites = [...suites].sort();
  counts.excluded = excluded;
  counts.seconds = (performance.now() - started) / 1000;
  console.log(JSON.stringify(counts));
}

const backend = argument('--backend');
if (backend !== undefined) await main(backend);
