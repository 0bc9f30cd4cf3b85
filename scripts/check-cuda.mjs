// Device check of the CUDA kernels: parity with the native CPU kernels on fresh random inputs,
// then device-resident timings. Plain JavaScript without dependencies, so that a bare `node`
// runs it on the GPU machine (node_modules does not travel there).
//
// Here first: `UCMG_CUDA=ON npm run build:native` (a CUDA build for sm_80/sm_90) and
// `../shared/device/pack-node.sh`. Then the device tool's run:
//   command:   xz -dc .device/node.xz > /tmp/node && chmod +x /tmp/node && /tmp/node scripts/check-cuda.mjs
//   carry:     [".device", "build/Release"]
//   timeout_s: 540
// If the addon built here does not load there, scripts/device-check.sh rebuilds it there.
//
// Usage: node scripts/check-cuda.mjs [addon.node] [--small] [--seed N]
//   addon.node  default build/Release/unicode_cmg.node
//   --small     small parity shapes and short timings, e.g. for the CPU emulation build
//               (native/cuda/emulation/build.sh), where timings mean nothing
// Prints PASS/FAIL per check and a timing table; with $OUT set, also writes
// $OUT/check-cuda.log and $OUT/check-cuda-table.md. Exit status 1 when the addon does not
// load, CUDA is not usable, or any check fails.
import { appendFileSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { totalmem } from 'node:os';
import { join, resolve } from 'node:path';

const argv = process.argv.slice(2);
const small = argv.includes('--small');
const seedAt = argv.indexOf('--seed');
const seed = seedAt >= 0 ? Number(argv[seedAt + 1]) >>> 0 : Date.now() >>> 0;
const addonPath = resolve(
  argv.find((a, i) => !a.startsWith('--') && argv[i - 1] !== '--seed') ?? 'build/Release/unicode_cmg.node',
);
const outDir = process.env.OUT;
const logPath = outDir ? join(outDir, 'check-cuda.log') : null;
if (logPath) writeFileSync(logPath, '');

function log(line = '') {
  console.log(line);
  if (logPath) appendFileSync(logPath, `${line}\n`);
}

// ---- load ------------------------------------------------------------------------------------
let binding;
try {
  binding = createRequire(import.meta.url)(addonPath);
  log(`addon: loaded ${addonPath}`);
} catch (err) {
  log(`addon: FAILED to load ${addonPath}: ${err?.message}`);
  process.exit(1);
}
log(`buildInfo: ${JSON.stringify(binding.buildInfo())}`);
const cudaInfo = binding.cudaInfo();
log(`cudaInfo: ${JSON.stringify(cudaInfo)}`);
if (!cudaInfo.usable) {
  log(`CUDA is not usable: ${cudaInfo.reason}`);
  process.exit(1);
}
log(`seed: ${seed}${small ? ' (--small)' : ''}`);

// ---- inputs ----------------------------------------------------------------------------------
let state = seed || 1;
function random() {
  // mulberry32
  state = (state + 0x6d2b79f5) >>> 0;
  let t = state;
  t = Math.imul(t ^ (t >>> 15), t | 1);
  t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
  return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
}
function uniform(length, lo = -1, hi = 1) {
  const out = new Float32Array(length);
  for (let i = 0; i < length; i++) out[i] = lo + (hi - lo) * random();
  return out;
}
function randomInts(length, below) {
  const out = new Int32Array(length);
  for (let i = 0; i < length; i++) out[i] = Math.floor(random() * below);
  return out;
}

// ---- comparisons (each returns null when equal enough, else what differs) ----------------------
function sameExactly(name, cpu, cuda) {
  if (cpu.length !== cuda.length) return `${name}: length ${cuda.length} != ${cpu.length}`;
  let count = 0,
    first = -1;
  for (let i = 0; i < cpu.length; i++) {
    if (!Object.is(cpu[i], cuda[i])) {
      if (first < 0) first = i;
      count++;
    }
  }
  return count ? `${name}: ${count} differ, first at ${first}: cpu ${cpu[first]} cuda ${cuda[first]}` : null;
}
// Elementwise |cuda - cpu| <= abs + rel |cpu|.
function closeElementwise(name, cpu, cuda, rel, abs) {
  if (cpu.length !== cuda.length) return `${name}: length ${cuda.length} != ${cpu.length}`;
  let worst = -1,
    worstExcess = 0;
  for (let i = 0; i < cpu.length; i++) {
    const excess = Math.abs(cuda[i] - cpu[i]) - (abs + rel * Math.abs(cpu[i]));
    if (!(excess <= 0) && (worst < 0 || !(excess <= worstExcess))) {
      worst = i;
      worstExcess = excess;
    }
  }
  return worst < 0 ? null : `${name}: element ${worst}: cpu ${cpu[worst]} cuda ${cuda[worst]}`;
}
// max |cuda - cpu| <= rel * max |cpu|  (gradients: relative to the array's scale).
function closeToScale(name, cpu, cuda, rel) {
  if (cpu.length !== cuda.length) return `${name}: length ${cuda.length} != ${cpu.length}`;
  let maxDiff = 0,
    scale = 0;
  for (let i = 0; i < cpu.length; i++) {
    const diff = Math.abs(cuda[i] - cpu[i]);
    maxDiff = diff > maxDiff || Number.isNaN(diff) ? diff : maxDiff;
    scale = Math.max(scale, Math.abs(cpu[i]));
  }
  return maxDiff <= rel * scale ? null : `${name}: max diff ${maxDiff} > ${rel} x scale ${scale}`;
}
function closeNumber(name, cpu, cuda, rel) {
  return Math.abs(cuda - cpu) <= rel * Math.abs(cpu) ? null : `${name}: cpu ${cpu} cuda ${cuda}`;
}
function relativeError(cpu, cuda) {
  return Math.abs(cuda - cpu) / Math.max(Math.abs(cpu), 1e-300);
}

let failures = 0;
function check(name, run) {
  const started = Date.now();
  let problems,
    detail = '';
  try {
    ({ problems, detail = '' } = run());
  } catch (err) {
    problems = [`threw: ${err?.stack || err}`];
  }
  problems = problems.filter((p) => p);
  const seconds = ((Date.now() - started) / 1000).toFixed(1);
  if (problems.length) failures++;
  log(`${problems.length ? 'FAIL' : 'PASS'} ${name} (${seconds} s)${detail ? `: ${detail}` : ''}`);
  for (const p of problems) log(`     ${p}`);
}

// ---- quantize --------------------------------------------------------------------------------
function checkQuantize(label, n, m, d, makeZ, makeCodebook, gather = false) {
  check(`quantize ${label} n=${n} m=${m} d=${d}`, () => {
    const codebook = makeCodebook(m, d);
    const z = makeZ(n, d, codebook, m);
    const args = { z, codebook, n, m, d, gather };
    const cpu = binding.quantize('cpu', args);
    const cuda = binding.quantize('cuda', args);
    return {
      problems: [
        sameExactly('indices', cpu.indices, cuda.indices),
        sameExactly('distances', cpu.distances, cuda.distances),
        gather ? sameExactly('quantized', cpu.quantized, cuda.quantized) : null,
      ],
    };
  });
}
const uniformRows = (rows, d) => uniform(rows * d);
// Every row of the second half repeats one of the first half: exact ties between codes.
function duplicatedCodebook(m, d) {
  const e = uniform(m * d);
  const half = Math.floor(m / 2);
  for (let j = half; j < m; j++) e.copyWithin(j * d, (j - half) * d, (j - half + 1) * d);
  return e;
}
// One code repeated m times: every row is a tie across the whole codebook.
function constantCodebook(m, d) {
  const row = uniform(d),
    e = new Float32Array(m * d);
  for (let j = 0; j < m; j++) e.set(row, j * d);
  return e;
}
// Every third row is a copy of a code: zero distances, and exact ties where codes repeat.
function rowsOnCodes(n, d, codebook, m) {
  const z = uniform(n * d);
  for (let i = 0; i < n; i += 3) z.set(codebook.subarray((i % m) * d, ((i % m) + 1) * d), i * d);
  return z;
}
const scaled = (factor) => (rows, d) => uniform(rows * d).map((v) => v * factor);
// A period of `period` random rows tiled over all n rows (cheap for huge n). The period is
// prime, so a row read at a wrapped 32-bit offset would come from a different residue.
function tiledRows(period) {
  return (n, d) => {
    const block = uniform(period * d);
    const z = new Float32Array(n * d);
    for (let i = 0; i < n; i += period) z.set(block.subarray(0, Math.min(period, n - i) * d), i * d);
    return z;
  };
}

log('\n## parity: quantize (indices and distances bit-identical to the CPU)');
checkQuantize('small d', 1000, 37, 3, uniformRows, uniformRows);
checkQuantize('partial tiles', 257, 513, 129, uniformRows, uniformRows, true);
checkQuantize('n < m', 5, 1000, 64, uniformRows, uniformRows);
checkQuantize('duplicated codes + rows on codes', 2000, 300, 64, rowsOnCodes, duplicatedCodebook, true);
checkQuantize('one code repeated', small ? 200 : 3000, 64, 32, uniformRows, constantCodebook);
checkQuantize('huge scale (bound void)', 300, 50, 16, scaled(1e18), uniformRows);
checkQuantize('tiny scale (bound void)', 300, 50, 16, scaled(1e-18), scaled(1e-18));
checkQuantize('published codebook init', small ? 500 : 4096, 400, 256, uniformRows, (m, d) =>
  uniform(m * d, -1 / 400, 1 / 400),
);
if (!small) {
  checkQuantize('rows over large tiles', 65536, 1024, 256, uniformRows, uniformRows);
  checkQuantize('paper scale', 1 << 20, 1024, 256, uniformRows, uniformRows);
  const n = 2 ** 23 + 1,
    d = 256; // n*d > 2^31
  const gib = (n * d * 4) / 2 ** 30;
  if (totalmem() > 6 * n * d * 4 && (cudaInfo.totalMemoryBytes ?? 0) > 2 * n * d * 4)
    checkQuantize('n*d > 2^31', n, 16, d, tiledRows(4093), uniformRows);
  else
    log(
      `SKIP quantize n*d > 2^31: needs ~${(6 * gib).toFixed(0)} GiB host and ${(2 * gib).toFixed(0)} GiB device memory`,
    );
}

// ---- mmEmaStep -------------------------------------------------------------------------------
function codebookState(m, d) {
  const embedding = uniform(m * d, -0.1, 0.1);
  const emaCount = uniform(m, 0, 5);
  const emaWeight = embedding.map((v, i) => v * emaCount[Math.floor(i / d)]);
  // counters from -1 to 400: after this step some codes are dead (> 300), some active (< 100)
  const unusedCount = randomInts(m, 402).map((u) => u - 1);
  return { embedding, emaCount, emaWeight, unusedCount };
}
// Indices over the first `used` codes; the first half of the clips agree in every modality.
function clipIndices(k, n, t, used) {
  const indices = Array.from({ length: k }, () => randomInts(n, used));
  for (let i = 0; i < n / 2 - ((n / 2) % t); i++) for (let x = 1; x < k; x++) indices[x][i] = indices[0][i];
  return indices;
}
function checkMmEma(label, k, m, d, b, t, overrides) {
  check(`mmEmaStep ${label} k=${k} m=${m} d=${d} n=${b * t}`, () => {
    const n = b * t;
    const options = {
      decay: 0.99,
      epsilon: 1e-5,
      deadAfter: 300,
      activeBelow: 100,
      seed: Math.floor(random() * 2 ** 32),
      resetEma: false,
      crossModal: true,
      segmentsPerClip: t,
      ...overrides,
    };
    const args = {
      state: codebookState(m, d),
      m,
      d,
      n,
      z: Array.from({ length: k }, () => uniform(n * d)),
      indices: clipIndices(k, n, t, Math.max(1, Math.floor(m * 0.75))),
      options,
    };
    const cpu = binding.mmEmaStep('cpu', args);
    const cuda = binding.mmEmaStep('cuda', args);
    const problems = [
      closeElementwise('embedding', cpu.state.embedding, cuda.state.embedding, 1e-5, 1e-6),
      closeElementwise('emaCount', cpu.state.emaCount, cuda.state.emaCount, 1e-5, 1e-6),
      closeElementwise('emaWeight', cpu.state.emaWeight, cuda.state.emaWeight, 1e-5, 1e-6),
      sameExactly('unusedCount', cpu.state.unusedCount, cuda.state.unusedCount),
      sameExactly('resetCodes', cpu.resetCodes, cuda.resetCodes),
      sameExactly('resetSources', cpu.resetSources, cuda.resetSources),
      closeElementwise('perplexity', cpu.perplexity, cuda.perplexity, 1e-9, 0),
      cpu.equalNum === cuda.equalNum ? null : `equalNum: cpu ${cpu.equalNum} cuda ${cuda.equalNum}`,
    ];
    return { problems, detail: `${cpu.resetCodes.length} codes revived, equalNum ${cpu.equalNum}` };
  });
}

log('\n## parity: mmEmaStep (state rel 1e-5 abs 1e-6; counters, resets, equalNum identical)');
checkMmEma('AVT paper size', 3, 400, 256, 80, 10, {});
checkMmEma('AV plain EMA, resetEma', 2, 37, 5, 10, 6, { crossModal: false, resetEma: true });
checkMmEma('no active code', 3, 50, 8, 4, 5, { activeBelow: 0 });
checkMmEma('one segment per clip', 2, 300, 64, 500, 1, { decay: 0.9, seed: 7 });

// ---- codeMatching ----------------------------------------------------------------------------
function checkCodeMatching(label, k, b, t, d, m) {
  check(`codeMatching ${label} k=${k} b=${b} t=${t} d=${d} m=${m}`, () => {
    const args = {
      z: Array.from({ length: k }, () => uniform(b * t * d)),
      codebook: uniform(m * d),
      b,
      t,
      d,
      m,
      epsilon: 1e-5,
      wantGrad: true,
    };
    const cpu = binding.codeMatching('cpu', args);
    const cuda = binding.codeMatching('cuda', args);
    const problems = [closeNumber('loss', cpu.loss, cuda.loss, 1e-4)];
    cpu.grads.forEach((g, i) => problems.push(closeToScale(`grads[${i}]`, g, cuda.grads[i], 1e-4)));
    return {
      problems,
      detail: `loss ${cpu.loss}, relative difference ${relativeError(cpu.loss, cuda.loss).toExponential(1)}`,
    };
  });
}

log('\n## parity: codeMatching (loss and gradients rel 1e-4)');
checkCodeMatching('AVT paper size', 3, 80, 10, 256, 400);
checkCodeMatching('AV odd sizes', 2, 7, 3, 5, 11);

// ---- infoNce ---------------------------------------------------------------------------------
function checkInfoNce(label, k, b, d) {
  check(`infoNce ${label} k=${k} b=${b} d=${d}`, () => {
    const weights = new Float32Array(k * k).map((_, i) => (i % (k + 1) === 0 ? 0.1 : 1));
    const args = {
      targets: Array.from({ length: k }, () => uniform(b * d, -0.25, 0.25)),
      preds: Array.from({ length: k }, () => uniform(b * d, -0.25, 0.25)),
      weights,
      b,
      d,
      wantGrad: true,
    };
    const cpu = binding.infoNce('cpu', args);
    const cuda = binding.infoNce('cuda', args);
    const problems = [
      closeNumber('loss', cpu.loss, cuda.loss, 1e-4),
      // a near-tie may flip one argmax: one column of b
      closeElementwise('accuracies', cpu.accuracies, cuda.accuracies, 0, 1.5 / b),
    ];
    cpu.gradTargets.forEach((g, i) => problems.push(closeToScale(`gradTargets[${i}]`, g, cuda.gradTargets[i], 1e-4)));
    cpu.gradPreds.forEach((g, i) => problems.push(closeToScale(`gradPreds[${i}]`, g, cuda.gradPreds[i], 1e-4)));
    const sameAccuracies = sameExactly('accuracies', cpu.accuracies, cuda.accuracies);
    return { problems, detail: `loss ${cpu.loss}, accuracies ${sameAccuracies ? 'within 1/b' : 'identical'}` };
  });
}

log('\n## parity: infoNce (loss and gradients rel 1e-4, accuracies)');
checkInfoNce('AVT batch 80', 3, 80, 256);
checkInfoNce('AV', 2, 300, 64);
if (!small) checkInfoNce('AVT large tiles', 3, 1000, 256);

// ---- CUDA backend dense kernels (binding.cudaDenseTest: batched matmul, conv2d + backprops) -----
// Against the CPU dense kernels. Both sum the same fp32 products in different orders, so an element
// may differ by 2 (k + 1) u sum|a||b| (u = 2^-24), computed per element from the CPU product of
// magnitudes, plus 4 ulps. tf32 is compared with the CPU on TF32-rounded inputs (products of TF32
// numbers are exact in fp32, so the same bound holds).
const dense = binding.cudaDenseTest;
const U = 2 ** -24;
function roundToTf32(x) {
  const f = new Float32Array([x]),
    bits = new Uint32Array(f.buffer);
  if ((bits[0] & 0x7f800000) !== 0x7f800000) bits[0] = ((bits[0] + 0x1000) & 0xffffe000) >>> 0;
  return f[0];
}
function withinOrderBound(name, cpu, cuda, absProduct, k) {
  if (cpu.length !== cuda.length) return `${name}: length ${cuda.length} != ${cpu.length}`;
  let worst = -1,
    worstRatio = 0;
  for (let i = 0; i < cpu.length; i++) {
    const bound = 2 * (k + 1) * U * absProduct[i] + 4 * U * Math.abs(cpu[i]);
    const ratio = Math.abs(cuda[i] - cpu[i]) / bound;
    if (!(ratio <= 1) && (worst < 0 || !(ratio <= worstRatio))) {
      worst = i;
      worstRatio = ratio;
    }
  }
  if (worst < 0) return null;
  return `${name}: element ${worst}: cpu ${cpu[worst]} cuda ${cuda[worst]} (${worstRatio.toFixed(1)}x the bound)`;
}
const magnitudes = (v) => v.map(Math.abs);
const tf32Inputs = (precision, v) => (precision === 'tf32' ? v.map(roundToTf32) : v);

function checkDenseMatMul(m, n, k, transposeA, transposeB, batch, precision) {
  check(`cuda matMul ${precision} ${m}x${n}x${k} tA=${transposeA} tB=${transposeB} batch ${batch.a}/${batch.b}`, () => {
    const a = uniform(batch.a * m * k),
      b = uniform(batch.b * k * n);
    const count = Math.max(batch.a, batch.b);
    const shape = { m, n, k, transposeA, transposeB };
    const cuda = new Float32Array(count * m * n).fill(NaN);
    dense.matMul({
      a,
      b,
      out: cuda,
      ...shape,
      batchRank: 1,
      aBatchShape: Int32Array.of(batch.a),
      bBatchShape: Int32Array.of(batch.b),
      precision,
    });
    const index = (matrices) => Int32Array.from({ length: count }, (_, i) => (matrices === 1 ? 0 : i));
    const cpuShape = {
      ...shape,
      batch: count,
      aBatches: batch.a,
      bBatches: batch.b,
      aBatchIndex: index(batch.a),
      bBatchIndex: index(batch.b),
    };
    const cpu = new Float32Array(cuda.length),
      absProduct = new Float32Array(cuda.length);
    binding.denseMatMul({ a: tf32Inputs(precision, a), b: tf32Inputs(precision, b), out: cpu, ...cpuShape });
    binding.denseMatMul({ a: magnitudes(a), b: magnitudes(b), out: absProduct, ...cpuShape });
    return { problems: [withinOrderBound('out', cpu, cuda, absProduct, k)] };
  });
}

function convGeometry(batch, size, inC, outC, filter, stride, pad, dilation) {
  const span = (filter - 1) * dilation + 1;
  const out = pad === 'same' ? Math.ceil(size / stride) : Math.floor((size - span) / stride) + 1;
  const padTotal = pad === 'same' ? Math.max(0, (out - 1) * stride + span - size) : 0;
  return {
    batch,
    inHeight: size,
    inWidth: size,
    inChannels: inC,
    outHeight: out,
    outWidth: out,
    outChannels: outC,
    filterHeight: filter,
    filterWidth: filter,
    strideHeight: stride,
    strideWidth: stride,
    dilationHeight: dilation,
    dilationWidth: dilation,
    padTop: Math.floor(padTotal / 2),
    padLeft: Math.floor(padTotal / 2),
  };
}

function checkDenseConv(label, g, precision) {
  check(`cuda conv2d + backprops ${precision} ${label}`, () => {
    const xSize = g.batch * g.inHeight * g.inWidth * g.inChannels;
    const ySize = g.batch * g.outHeight * g.outWidth * g.outChannels;
    const fSize = g.filterHeight * g.filterWidth * g.inChannels * g.outChannels;
    const x = uniform(xSize),
      filter = uniform(fSize),
      dy = uniform(ySize);
    const xr = tf32Inputs(precision, x),
      fr = tf32Inputs(precision, filter),
      dyr = tf32Inputs(precision, dy);
    const taps = g.filterHeight * g.filterWidth;
    const problems = [];
    const run = (size, cudaCall, cpuCall, absCall, k, name) => {
      const cuda = new Float32Array(size).fill(NaN),
        cpu = new Float32Array(size),
        abs = new Float32Array(size);
      cudaCall(cuda);
      cpuCall(cpu);
      absCall(abs);
      problems.push(withinOrderBound(name, cpu, cuda, abs, k));
    };
    run(
      ySize,
      (out) => dense.conv2d({ x, filter, out, geometry: g, precision }),
      (out) => binding.denseConv2d({ x: xr, filter: fr, out, geometry: g }),
      (out) => binding.denseConv2d({ x: magnitudes(x), filter: magnitudes(filter), out, geometry: g }),
      taps * g.inChannels,
      'forward',
    );
    run(
      xSize,
      (dx) => dense.conv2dBackpropInput({ dy, filter, dx, geometry: g, precision }),
      (dx) => binding.denseConv2dBackpropInput({ dy: dyr, filter: fr, dx, geometry: g }),
      (dx) => binding.denseConv2dBackpropInput({ dy: magnitudes(dy), filter: magnitudes(filter), dx, geometry: g }),
      taps * g.outChannels,
      'backprop input',
    );
    run(
      fSize,
      (dw) => dense.conv2dBackpropFilter({ x, dy, dw, geometry: g, precision }),
      (dw) => binding.denseConv2dBackpropFilter({ x: xr, dy: dyr, dw, geometry: g }),
      (dw) => binding.denseConv2dBackpropFilter({ x: magnitudes(x), dy: magnitudes(dy), dw, geometry: g }),
      g.batch * g.outHeight * g.outWidth,
      'backprop filter',
    );
    return { problems };
  });
}

if (dense) {
  log('\n## parity: CUDA backend dense kernels (within the summation-order bound of the CPU kernels)');
  for (const precision of ['exact', 'tf32']) {
    for (const [tA, tB] of [
      [false, false],
      [false, true],
      [true, false],
      [true, true],
    ]) {
      if (small) checkDenseMatMul(37, 29, 19, tA, tB, { a: 2, b: 1 }, precision);
      else checkDenseMatMul(300, 259, 513, tA, tB, { a: 3, b: 3 }, precision);
    }
    if (!small) checkDenseMatMul(7200, 256, 2048, false, false, { a: 1, b: 1 }, precision);
    const b = small ? 2 : 16;
    checkDenseConv(
      '3x3 valid (paper video conv, channels / 8)',
      convGeometry(b, 7, small ? 8 : 64, small ? 16 : 128, 3, 1, 'valid', 1),
      precision,
    );
    checkDenseConv('3x3 same stride 2', convGeometry(b, 9, 6, 10, 3, 2, 'same', 1), precision);
    checkDenseConv('3x3 same dilation 2', convGeometry(b, 8, 5, 7, 3, 1, 'same', 2), precision);
    checkDenseConv(
      '1x1 (paper video conv3, channels / 8)',
      convGeometry(b, 3, small ? 16 : 256, small ? 8 : 32, 1, 1, 'valid', 1),
      precision,
    );
  }
} else {
  log('\nSKIP CUDA backend dense kernels: this addon has no cudaDenseTest export');
}

// ---- timings ---------------------------------------------------------------------------------
// target: the project's speed goal; torchMs: the PyTorch anchor of docs/algorithm.md §6 (H200, fp32, tf32 off).
const timings = small
  ? [
      { op: 'quantize', params: { n: 4096, m: 256, d: 64 }, iters: 2 },
      { op: 'avtStep', params: { b: 8, t: 10, d: 64, m: 100 }, iters: 2 },
      { op: 'infoNce', params: { b: 256, d: 64, k: 3 }, iters: 2 },
    ]
  : [
      {
        op: 'quantize',
        params: { n: 1 << 20, m: 1024, d: 256 },
        iters: 20,
        target: 5,
        torchMs: 19.7,
        torchNote: 'tf32: 9.7',
      },
      { op: 'quantize', params: { n: 65536, m: 8192, d: 256 }, iters: 20 },
      { op: 'quantize', params: { n: 131072, m: 65536, d: 256 }, iters: 5, torchMs: 150 },
      {
        op: 'avtStep',
        params: { b: 80, t: 10, d: 256, m: 400 },
        iters: 50,
        target: 0.5,
        torchMs: 5.6,
        torchNote: 'vectorised; published structure 150',
      },
      { op: 'infoNce', params: { b: 8192, d: 256, k: 3 }, iters: 20, target: 10, torchMs: 25.8 },
      { op: 'infoNce', params: { b: 80, d: 256, k: 3 }, iters: 50, torchMs: 2.7 },
    ];
const table = [
  '| what | size | median ms | min ms | target ms | PyTorch anchor ms (docs/algorithm.md §6) | verdict |',
  '|---|---|---|---|---|---|---|',
];
log('\n## timings (binding.cudaTime: device-resident, CUDA events, one warm-up)');
table.forEach((line) => log(line));
for (const { op, params, iters, target, torchMs, torchNote } of timings) {
  const size = Object.entries(params)
    .map(([key, value]) => `${key}=${value}`)
    .join(' ');
  const anchor = torchMs ? `${torchMs}${torchNote ? ` (${torchNote})` : ''}` : '-';
  let measured, verdict;
  try {
    const ms = binding
      .cudaTime(op, params, iters)
      .slice()
      .sort((a, b) => a - b);
    const median = ms[Math.floor(ms.length / 2)];
    measured = `${median.toFixed(3)} | ${ms[0].toFixed(3)}`;
    const verdicts = [];
    if (target) {
      verdicts.push(median <= target ? 'meets target' : `misses target (${(median / target).toFixed(1)}x)`);
    }
    if (torchMs) verdicts.push(`${(torchMs / median).toFixed(2)}x torch speed`);
    verdict = small ? '--small: too small to judge' : verdicts.join('; ') || '-';
  } catch (err) {
    failures++;
    measured = 'FAILED | -';
    verdict = String(err?.message).replace(/\|/g, '/');
  }
  const row = `| ${op} | ${size} | ${measured} | ${target ?? '-'} | ${anchor} | ${verdict} |`;
  table.push(row);
  log(row);
}
// The dense kernels: GFLOP/s (2 multiply-adds per term) at the paper's sizes, exact and tf32.
if (dense) {
  const paperConv = convGeometry(small ? 2 : 800, 7, small ? 16 : 512, small ? 32 : 1024, 3, 1, 'valid', 1);
  const convFlops =
    2 * paperConv.batch * paperConv.outHeight * paperConv.outWidth * paperConv.outChannels * 9 * paperConv.inChannels;
  const denseTimings = [
    { what: 'matMul 4096^3', args: { op: 'matMul', batch: 1, m: 4096, n: 4096, k: 4096 }, flops: 2 * 4096 ** 3 },
    {
      what: 'matMul paper conv3 as GEMM',
      args: { op: 'matMul', batch: 1, m: 7200, n: 256, k: 2048 },
      flops: 2 * 7200 * 256 * 2048,
    },
    {
      what: 'matMul attention batch 320 (10x64 x 64x10)',
      args: { op: 'matMul', batch: 320, m: 10, n: 10, k: 64 },
      flops: 2 * 320 * 10 * 10 * 64,
    },
    ...['conv2d', 'conv2dBackpropInput', 'conv2dBackpropFilter'].map((op) => ({
      what: `${op} paper video conv1`,
      args: { op, geometry: paperConv },
      flops: convFlops,
    })),
  ].map((t) => (small && t.args.op === 'matMul' ? { ...t, args: { ...t.args, batch: 2, m: 64, n: 48, k: 32 } } : t));
  const denseTable = ['| dense kernel | size | precision | median ms | GFLOP/s |', '|---|---|---|---|---|'];
  log('\n## timings: CUDA backend dense kernels (cudaDenseTest.time: device-resident, CUDA events)');
  denseTable.forEach((line) => log(line));
  for (const { what, args, flops } of denseTimings) {
    for (const precision of ['exact', 'tf32']) {
      const g = args.geometry;
      const size =
        args.op === 'matMul'
          ? `${args.batch}x${args.m}x${args.n}x${args.k}`
          : `x ${g.batch}x${g.inHeight}x${g.inWidth}x${g.inChannels} -> ${g.outChannels}`;
      let cells;
      try {
        const ms = dense.time({ ...args, precision, iters: small ? 1 : 10 }).sort((a, b) => a - b);
        const median = ms[Math.floor(ms.length / 2)];
        cells = `${median.toFixed(3)} | ${small ? '--small' : (flops / median / 1e6).toFixed(0)}`;
      } catch (err) {
        failures++;
        cells = `FAILED | ${String(err?.message).replace(/\|/g, '/')}`;
      }
      const row = `| ${what} | ${size} | ${precision} | ${cells} |`;
      denseTable.push(row);
      log(row);
    }
  }
  table.push('', ...denseTable);
}
if (outDir) writeFileSync(join(outDir, 'check-cuda-table.md'), `${table.join('\n')}\n`);

log(`\n${failures ? `${failures} check(s) FAILED` : 'all checks passed'}`);
process.exit(failures ? 1 : 0);
