// The native addon's argument checking: every bad input is a TypeError or RangeError whose
// message starts with the op and names the argument, thrown before any work, leaving the inputs
// as they were. Also the loader: what it tries, caches and reports.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { describe, it } from 'node:test';

import type { NativeBinding, NativeMmEmaOptions } from '../src/native/binding.js';
import { loadNative, nativeUnavailableMessage } from '../src/native/loader.js';
import { freeingGetter } from './native-support.js';

const loaded = loadNative();
const skip = loaded.binding ? false : nativeUnavailableMessage(loaded);
if (skip) console.log(`# native-binding: skipped: ${skip}`);
const native = (): NativeBinding => loaded.binding as NativeBinding;

const f32 = (length: number, fill = 0.5) => new Float32Array(length).fill(fill);

/** A call that must throw `type` with exactly `message`. */
function rejects(call: () => unknown, type: ErrorConstructor, message: string): void {
  assert.throws(call, (error: unknown) => {
    assert.ok(error instanceof type, `expected a ${type.name}, got ${String(error)}`);
    assert.equal((error as Error).message, message);
    return true;
  });
}

// Valid arguments of each op, small enough to read; each test breaks one thing.
const quantizeArgs = () => ({ z: f32(6), codebook: f32(4, 0.25), n: 3, m: 2, d: 2, gather: false });

const mmEmaOptions = (): NativeMmEmaOptions => ({
  decay: 0.99,
  epsilon: 1e-5,
  deadAfter: 1,
  activeBelow: 1,
  seed: 7,
  resetEma: true,
  crossModal: true,
  segmentsPerClip: 2,
});
const mmEmaArgs = () => ({
  state: {
    embedding: Float32Array.from([0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8]),
    emaCount: Float32Array.from([1, 2, 0, 0.5]),
    emaWeight: Float32Array.from([0.1, -0.2, 0.3, 0.4, -0.5, 0.6, 0.7, 0.8]),
    unusedCount: Int32Array.from([0, 5, 0, -1]), // code 1 is dead after the step
  },
  m: 4,
  d: 2,
  n: 4,
  z: [Float32Array.from([1, 2, 3, 4, 5, 6, 7, 8]), Float32Array.from([8, 7, 6, 5, 4, 3, 2, 1])],
  indices: [Int32Array.from([0, 0, 2, 3]), Int32Array.from([0, 2, 2, 3])],
  options: mmEmaOptions(),
});

const codeMatchingArgs = () => ({
  z: [f32(12, 0.1), f32(12, -0.2)],
  codebook: f32(8, 0.3),
  b: 2,
  t: 3,
  d: 2,
  m: 4,
  epsilon: 1e-5,
  wantGrad: true,
});

const infoNceArgs = () => ({
  targets: [f32(6, 0.1), f32(6, 0.2)],
  preds: [f32(6, 0.3), f32(6, 0.4)],
  weights: Float32Array.from([0.1, 1, 1, 0.1]),
  b: 3,
  d: 2,
  wantGrad: true,
});

describe('native binding: build facts', { skip }, () => {
  it('buildInfo, cpuThreads and cudaInfo have the declared shapes', () => {
    const info = native().buildInfo();
    assert.equal(typeof info.cuda, 'boolean');
    assert.ok(Array.isArray(info.cudaArchitectures));
    assert.equal(info.cudaArchitectures.length > 0, info.cuda, 'architectures exactly when CUDA is compiled');
    assert.ok(info.blas === 'openblas' || info.blas === null);
    assert.equal(typeof info.openmp, 'boolean');
    assert.ok(Number.isInteger(native().cpuThreads()) && native().cpuThreads() >= 1);
    const cuda = native().cudaInfo();
    if (!info.cuda) assert.deepEqual(cuda, { usable: false, reason: 'not compiled', deviceCount: 0 });
    else assert.equal(typeof cuda.usable, 'boolean');
  });
});

describe('native binding: device argument', { skip }, () => {
  it('rejects unknown devices and non-strings', () => {
    rejects(
      () => native().quantize('gpu' as 'cpu', quantizeArgs()),
      RangeError,
      "quantize: device must be 'cpu' or 'cuda', got the string 'gpu'",
    );
    rejects(
      () => native().infoNce(1 as unknown as 'cpu', infoNceArgs()),
      TypeError,
      "infoNce: device must be 'cpu' or 'cuda', got 1",
    );
  });

  it("'cuda' without a usable CUDA device is an Error saying why", (t) => {
    if (native().cudaInfo().usable) return t.skip('CUDA is usable here');
    const expected = native().buildInfo().cuda
      ? `quantize: CUDA is not usable here: ${native().cudaInfo().reason}`
      : 'quantize: CUDA was not compiled into this build';
    rejects(() => native().quantize('cuda', quantizeArgs()), Error, expected);
    rejects(
      () => native().cudaTime('quantize', { n: 8, m: 4, d: 2 }, 3),
      Error,
      expected.replace('quantize', 'cudaTime'),
    );
  });

  it('cudaTime checks its op, params and iters first', () => {
    rejects(
      () => native().cudaTime('gemm' as 'quantize', { n: 8, m: 4, d: 2 }, 3),
      RangeError,
      "cudaTime: op must be 'quantize', 'avtStep' or 'infoNce', got the string 'gemm'",
    );
    rejects(
      () => native().cudaTime('infoNce', { b: 8, d: 4 }, 3),
      TypeError,
      'cudaTime: params.k must be an integer in [2, 3], got undefined',
    );
    rejects(
      () => native().cudaTime('avtStep', { b: 8, t: 2, d: 4, m: 0 }, 3),
      RangeError,
      'cudaTime: params.m must be a positive integer below 2^31, got 0',
    );
    rejects(
      () => native().cudaTime('quantize', { n: 8, m: 4, d: 2 }, 0),
      RangeError,
      'cudaTime: iters must be an integer in [1, 100000], got 0',
    );
  });
});

describe('native binding: quantize arguments', { skip }, () => {
  const call = (args: object) => native().quantize('cpu', { ...quantizeArgs(), ...args });

  it('accepts the valid arguments', () => {
    assert.equal(call({}).indices.length, 3);
  });
  it('wrong array types are TypeErrors naming the argument', () => {
    rejects(() => call({ z: [0, 0, 0, 0, 0, 0] }), TypeError, 'quantize: z must be a Float32Array, got an Array');
    rejects(
      () => call({ z: new Float64Array(6) }),
      TypeError,
      'quantize: z must be a Float32Array, got a Float64Array',
    );
    rejects(
      () => call({ codebook: new Int32Array(4) }),
      TypeError,
      'quantize: codebook must be a Float32Array, got an Int32Array',
    );
    rejects(
      () => native().quantize('cpu', undefined as never),
      TypeError,
      'quantize: args must be an object, got undefined',
    );
  });
  it('lengths must match the dims', () => {
    rejects(() => call({ z: f32(5) }), RangeError, 'quantize: z must have n*d = 6 elements, got 5');
    rejects(() => call({ codebook: f32(6) }), RangeError, 'quantize: codebook must have m*d = 4 elements, got 6');
  });
  it('dims must be positive integers: an empty batch is a RangeError', () => {
    rejects(() => call({ n: 0, z: f32(0) }), RangeError, 'quantize: n must be a positive integer below 2^31, got 0');
    rejects(() => call({ d: 1.5 }), RangeError, 'quantize: d must be a positive integer below 2^31, got 1.5');
    rejects(() => call({ m: '2' }), TypeError, "quantize: m must be a positive integer, got the string '2'");
    rejects(() => call({ gather: 1 }), TypeError, 'quantize: gather must be a boolean, got 1');
  });
  it('NaN and infinities are RangeErrors naming the first bad element', () => {
    const z = f32(6);
    z[4] = NaN;
    z[5] = Infinity;
    rejects(() => call({ z }), RangeError, 'quantize: z must be finite, but element 4 is NaN');
    const codebook = f32(4);
    codebook[1] = -Infinity;
    rejects(() => call({ codebook }), RangeError, 'quantize: codebook must be finite, but element 1 is -Infinity');
  });
});

describe('native binding: mmEmaStep arguments', { skip }, () => {
  type MmEmaArgs = ReturnType<typeof mmEmaArgs>;
  const call = (edit: (args: MmEmaArgs) => void) => {
    const args = mmEmaArgs();
    edit(args);
    return native().mmEmaStep('cpu', args);
  };

  it('K must be 2 or 3, with one index array per modality', () => {
    rejects(
      () =>
        call((a) => {
          a.z = a.z.slice(0, 1);
          a.indices = a.indices.slice(0, 1);
        }),
      RangeError,
      'mmEmaStep: z must be an Array of 2 or 3 Float32Arrays (one per modality), got 1',
    );
    rejects(
      () =>
        call((a) => {
          a.z = [...a.z, ...a.z];
        }),
      RangeError,
      'mmEmaStep: z must be an Array of 2 or 3 Float32Arrays (one per modality), got 4',
    );
    rejects(
      () =>
        call((a) => {
          a.indices = [...a.indices, a.indices[0]];
        }),
      RangeError,
      'mmEmaStep: indices must hold one Int32Array per modality of z (2), got 3',
    );
    rejects(
      () =>
        call((a) => {
          a.z = a.z[0] as never;
        }),
      TypeError,
      'mmEmaStep: z must be an Array of 2 or 3 Float32Arrays (one per modality), got a Float32Array',
    );
  });
  it('every modality has n rows', () => {
    rejects(
      () =>
        call((a) => {
          a.z[1] = f32(6);
        }),
      RangeError,
      'mmEmaStep: z[1] must have n*d = 8 elements, got 6',
    );
    rejects(
      () =>
        call((a) => {
          a.indices[0] = Int32Array.from([0, 1, 2]);
        }),
      RangeError,
      'mmEmaStep: indices[0] must have n = 4 elements, got 3',
    );
    rejects(
      () =>
        call((a) => {
          a.indices[1] = Float32Array.from([0, 1, 2, 3]) as never;
        }),
      TypeError,
      'mmEmaStep: indices[1] must be an Int32Array, got a Float32Array',
    );
  });
  it('indices must lie in [0, m)', () => {
    rejects(
      () =>
        call((a) => {
          a.indices[1][2] = 4;
        }),
      RangeError,
      'mmEmaStep: indices[1][2] = 4 is out of range [0, m = 4)',
    );
    rejects(
      () =>
        call((a) => {
          a.indices[0][0] = -1;
        }),
      RangeError,
      'mmEmaStep: indices[0][0] = -1 is out of range [0, m = 4)',
    );
  });
  it('the state is checked: types, lengths, finite values, counts >= 0', () => {
    rejects(
      () =>
        call((a) => {
          a.state.unusedCount = new Float32Array(4) as never;
        }),
      TypeError,
      'mmEmaStep: state.unusedCount must be an Int32Array, got a Float32Array',
    );
    rejects(
      () =>
        call((a) => {
          a.state.emaWeight = f32(7);
        }),
      RangeError,
      'mmEmaStep: state.emaWeight must have m*d = 8 elements, got 7',
    );
    rejects(
      () =>
        call((a) => {
          a.state.embedding[3] = NaN;
        }),
      RangeError,
      'mmEmaStep: state.embedding must be finite, but element 3 is NaN',
    );
    rejects(
      () =>
        call((a) => {
          a.state.emaCount[2] = -1;
        }),
      RangeError,
      'mmEmaStep: state.emaCount must be >= 0, but element 2 is -1',
    );
    rejects(
      () =>
        call((a) => {
          a.z[0][7] = Infinity;
        }),
      RangeError,
      'mmEmaStep: z[0] must be finite, but element 7 is Infinity',
    );
  });
  it('options are checked by type and range', () => {
    rejects(
      () =>
        call((a) => {
          a.options.decay = 1;
        }),
      RangeError,
      'mmEmaStep: options.decay must be a finite number in (0, 1), got 1',
    );
    rejects(
      () =>
        call((a) => {
          a.options.epsilon = 0;
        }),
      RangeError,
      'mmEmaStep: options.epsilon must be a finite number > 0, got 0',
    );
    rejects(
      () =>
        call((a) => {
          a.options.seed = -1;
        }),
      RangeError,
      'mmEmaStep: options.seed must be an integer in [0, 4294967295], got -1',
    );
    rejects(
      () =>
        call((a) => {
          a.options.seed = 2 ** 32;
        }),
      RangeError,
      'mmEmaStep: options.seed must be an integer in [0, 4294967295], got 4294967296',
    );
    rejects(
      () =>
        call((a) => {
          a.options.deadAfter = 2.5;
        }),
      RangeError,
      'mmEmaStep: options.deadAfter must be an integer in [0, 2147483647], got 2.5',
    );
    rejects(
      () =>
        call((a) => {
          delete (a.options as Partial<NativeMmEmaOptions>).resetEma;
        }),
      TypeError,
      'mmEmaStep: options.resetEma must be a boolean, got undefined',
    );
    rejects(
      () =>
        call((a) => {
          a.options.segmentsPerClip = 3;
        }),
      RangeError,
      'mmEmaStep: options.segmentsPerClip must divide n = 4, got 3',
    );
    rejects(
      () =>
        call((a) => {
          a.options = null as never;
        }),
      TypeError,
      'mmEmaStep: options must be an object, got null',
    );
  });

  it('an unused count saturates at 2^31 - 1 instead of wrapping to a negative count', () => {
    const args = mmEmaArgs();
    args.state.unusedCount[1] = 2 ** 31 - 1; // code 1 is not used by the step
    args.options.deadAfter = 2 ** 31 - 1; // so that it is not dead either, and keeps counting
    args.options.activeBelow = 2 ** 31 - 1;
    const result = native().mmEmaStep('cpu', args);
    assert.equal(result.state.unusedCount[1], 2 ** 31 - 1);
    assert.deepEqual(Array.from(result.resetCodes), []);
  });

  it('returns fresh state arrays and leaves its inputs untouched, also when it fails', () => {
    const args = mmEmaArgs();
    const snapshot = structuredClone(args);
    const result = native().mmEmaStep('cpu', args);
    assert.deepEqual(args, snapshot, 'inputs after a successful step');
    assert.deepEqual(Array.from(result.resetCodes), [1], 'the step did revive a code');
    assert.notDeepEqual(result.state.embedding, args.state.embedding, 'the step changed the embedding');
    for (const key of ['embedding', 'emaCount', 'emaWeight', 'unusedCount'] as const) {
      assert.notEqual(result.state[key].buffer, args.state[key].buffer, `${key} is a new array`);
    }
    args.indices[1][3] = 99;
    const before = structuredClone(args);
    assert.throws(() => native().mmEmaStep('cpu', args), RangeError);
    assert.deepEqual(args, before, 'inputs after a rejected step');
  });
});

describe('native binding: codeMatching and infoNce arguments', { skip }, () => {
  it('codeMatching checks K, lengths, values and epsilon', () => {
    const call = (args: object) => native().codeMatching('cpu', { ...codeMatchingArgs(), ...args });
    assert.equal(call({}).grads.length, 2);
    rejects(
      () => call({ z: [f32(12)] }),
      RangeError,
      'codeMatching: z must be an Array of 2 or 3 Float32Arrays (one per modality), got 1',
    );
    rejects(
      () => call({ z: [f32(12), f32(10)] }),
      RangeError,
      'codeMatching: z[1] must have b*t*d = 12 elements, got 10',
    );
    rejects(
      () => call({ z: [f32(12), Float32Array.from({ length: 12 }, (_, i) => (i === 9 ? NaN : 0))] }),
      RangeError,
      'codeMatching: z[1] must be finite, but element 9 is NaN',
    );
    rejects(() => call({ b: 0 }), RangeError, 'codeMatching: b must be a positive integer below 2^31, got 0');
    rejects(
      () => call({ epsilon: -1e-5 }),
      RangeError,
      'codeMatching: epsilon must be a finite number >= 0, got -1e-05',
    );
    rejects(
      () => call({ wantGrad: 'yes' }),
      TypeError,
      "codeMatching: wantGrad must be a boolean, got the string 'yes'",
    );
  });

  it('infoNce checks K, matching modality counts, weights and values', () => {
    const call = (args: object) => native().infoNce('cpu', { ...infoNceArgs(), ...args });
    assert.equal(call({}).accuracies.length, 4);
    const four = [f32(6), f32(6), f32(6), f32(6)];
    rejects(
      () => call({ targets: four, preds: four, weights: f32(16) }),
      RangeError,
      'infoNce: targets must be an Array of 2 or 3 Float32Arrays (one per modality), got 4',
    );
    rejects(
      () => call({ preds: [f32(6), f32(6), f32(6)] }),
      RangeError,
      'infoNce: preds must hold as many modalities as targets (2), got 3',
    );
    rejects(() => call({ weights: f32(9) }), RangeError, 'infoNce: weights must have k*k = 4 elements, got 9');
    rejects(
      () => call({ preds: [f32(6), Float32Array.from([NaN, 0, 0, 0, 0, 0])] }),
      RangeError,
      'infoNce: preds[1] must be finite, but element 0 is NaN',
    );
    rejects(
      () => call({ targets: [f32(6), [0, 0, 0, 0, 0, 0]] }),
      TypeError,
      'infoNce: targets[1] must be a Float32Array, got an Array',
    );
    rejects(() => call({ d: 0 }), RangeError, 'infoNce: d must be a positive integer below 2^31, got 0');
  });
});

// A getter that ran could free an array the binding already holds a pointer into; the binding
// must refuse getters and Proxies without running them, before it reads any array.
describe('native binding: getters and Proxies are refused without being run', { skip }, () => {
  const getterMessage = (op: string, path: string) => `${op}: ${path} must be a data property, got a getter or setter`;

  /** `call` must throw the getter TypeError for `path`, without running the getter. */
  function refusesGetter(call: () => unknown, op: string, path: string, getter: { calls: number }): void {
    rejects(call, TypeError, getterMessage(op, path));
    assert.equal(getter.calls, 0, 'the getter must not run');
  }

  it('quantize', () => {
    const args = quantizeArgs();
    const getter = freeingGetter(args, 'codebook', args.z);
    refusesGetter(() => native().quantize('cpu', args), 'quantize', 'codebook', getter);
    const late = quantizeArgs();
    refusesGetter(() => native().quantize('cpu', late), 'quantize', 'gather', freeingGetter(late, 'gather', late.z));
    assert.equal(late.z.length, 6, 'z was not detached');
  });

  it('mmEmaStep: fields, nested objects and array elements', () => {
    const a = mmEmaArgs();
    refusesGetter(
      () => native().mmEmaStep('cpu', a),
      'mmEmaStep',
      'options.decay',
      freeingGetter(a.options, 'decay', a.state.embedding),
    );
    const b = mmEmaArgs();
    refusesGetter(() => native().mmEmaStep('cpu', b), 'mmEmaStep', 'z[1]', freeingGetter(b.z, '1', b.z[0]));
    const c = mmEmaArgs();
    refusesGetter(
      () => native().mmEmaStep('cpu', c),
      'mmEmaStep',
      'state.unusedCount',
      freeingGetter(c.state, 'unusedCount', c.state.emaWeight),
    );
    const d = mmEmaArgs();
    refusesGetter(() => native().mmEmaStep('cpu', d), 'mmEmaStep', 'options', freeingGetter(d, 'options', d.z[1]));
  });

  it('codeMatching and infoNce', () => {
    const cm = codeMatchingArgs();
    refusesGetter(
      () => native().codeMatching('cpu', cm),
      'codeMatching',
      'wantGrad',
      freeingGetter(cm, 'wantGrad', cm.codebook),
    );
    const nce = infoNceArgs();
    refusesGetter(
      () => native().infoNce('cpu', nce),
      'infoNce',
      'weights',
      freeingGetter(nce, 'weights', nce.targets[0]),
    );
    const preds = infoNceArgs();
    refusesGetter(
      () => native().infoNce('cpu', preds),
      'infoNce',
      'preds[0]',
      freeingGetter(preds.preds, '0', preds.targets[1]),
    );
  });

  it('cudaTime reads its params the same way', () => {
    const params = { n: 8, m: 4, d: 2 };
    const getter = { calls: 0 };
    Object.defineProperty(params, 'm', { enumerable: true, get: () => ++getter.calls });
    refusesGetter(() => native().cudaTime('quantize', params, 3), 'cudaTime', 'params.m', getter);
  });

  it('a setter without a getter is refused the same way', () => {
    const args = quantizeArgs();
    Object.defineProperty(args, 'n', { enumerable: true, set: () => {} });
    rejects(() => native().quantize('cpu', args), TypeError, getterMessage('quantize', 'n'));
  });

  it('Proxies are refused before any trap runs, as arguments and as nested objects', () => {
    let traps = 0;
    // Every trap of this handler throws and counts.
    const handler = new Proxy(
      {},
      {
        get: () => () => {
          throw new Error(`trap ${++traps} ran`);
        },
      },
    ) as ProxyHandler<never>;
    rejects(
      () => native().quantize('cpu', new Proxy(quantizeArgs(), handler)),
      TypeError,
      'quantize: args must be a plain object, got a Proxy',
    );
    const args = mmEmaArgs();
    args.state = new Proxy(args.state, handler);
    rejects(() => native().mmEmaStep('cpu', args), TypeError, 'mmEmaStep: state must be a plain object, got a Proxy');
    // A Proxy of an Array is no Array to the binding.
    rejects(
      () => native().codeMatching('cpu', { ...codeMatchingArgs(), z: new Proxy([f32(12), f32(12)], handler) }),
      TypeError,
      'codeMatching: z must be an Array of 2 or 3 Float32Arrays (one per modality), got an object',
    );
    assert.equal(traps, 0, 'no trap may run');
  });

  it('inherited properties are not read: a polluted Object.prototype changes nothing', () => {
    const proto = Object.prototype as unknown as Record<string, unknown>;
    const expected = native().quantize('cpu', quantizeArgs());
    const withoutGather: Partial<ReturnType<typeof quantizeArgs>> = quantizeArgs();
    delete withoutGather.gather;
    proto.gather = false;
    try {
      rejects(
        () => native().quantize('cpu', withoutGather as never),
        TypeError,
        'quantize: gather must be a boolean, got undefined',
      );
      const inherited = Object.create(quantizeArgs()) as ReturnType<typeof quantizeArgs>;
      rejects(
        () => native().quantize('cpu', inherited),
        TypeError,
        'quantize: n must be a positive integer, got undefined',
      );
    } finally {
      delete proto.gather;
    }
    assert.deepEqual(native().quantize('cpu', quantizeArgs()), expected);
  });
});

// ---- loader -----------------------------------------------------------------------------------

/** loadNative() in a fresh process (its result is cached per process) under the given env. */
function loadInChild(env: Record<string, string>) {
  const loader = new URL('../src/native/loader.js', import.meta.url).href;
  const script = `import { loadNative, nativeUnavailableMessage } from ${JSON.stringify(loader)};
    const r = loadNative();
    console.log(JSON.stringify({ loaded: r.binding !== null, path: r.path, failures: r.failures,
      cached: loadNative() === r, message: nativeUnavailableMessage(r) }));`;
  const child = spawnSync(process.execPath, ['--input-type=module', '-e', script], {
    env: { ...process.env, UCMG_NATIVE: '', UCMG_NATIVE_PATH: '', ...env },
    encoding: 'utf8',
  });
  assert.equal(child.status, 0, child.stderr);
  return JSON.parse(child.stdout) as {
    loaded: boolean;
    path?: string;
    failures: string[];
    cached: boolean;
    message: string;
  };
}

describe('native loader', () => {
  it('UCMG_NATIVE=0 disables the addon, and the message says how to enable it', () => {
    const r = loadInChild({ UCMG_NATIVE: '0' });
    assert.equal(r.loaded, false);
    assert.deepEqual(r.failures, ['native addon disabled by UCMG_NATIVE=0']);
    assert.match(r.message, /disabled by UCMG_NATIVE=0.*Unset UCMG_NATIVE/s);
  });

  it('a bad UCMG_NATIVE_PATH is reported and the build folder is tried next', { skip }, () => {
    const r = loadInChild({ UCMG_NATIVE_PATH: '/nonexistent/unicode_cmg.node' });
    assert.equal(r.loaded, true);
    assert.match(r.path ?? '', /build[/\\]Release[/\\]unicode_cmg\.node$/);
    // A source checkout has neither prebuilt package (optionalDependencies not yet published).
    assert.deepEqual(r.failures, [
      '/nonexistent/unicode_cmg.node: not found',
      `unicode-cmg-${process.platform}-${process.arch}-cuda: not installed`,
      `unicode-cmg-${process.platform}-${process.arch}: not installed`,
    ]);
    assert.equal(r.cached, true, 'a second call returns the cached result');
  });

  it('a file that is no addon is a failure with the reason, never a throw', () => {
    const notAddon = new URL('../src/native/loader.js', import.meta.url).pathname;
    const r = loadInChild({ UCMG_NATIVE_PATH: notAddon });
    assert.ok(r.failures[0].startsWith(`${notAddon}: `), r.failures[0]);
  });

  it('the unavailable message lists every failure and how to rebuild', () => {
    const message = nativeUnavailableMessage({
      binding: null,
      failures: ['/a/unicode_cmg.node: not found', '/b/unicode_cmg.node: bad ELF'],
    });
    assert.match(message, /could not be loaded/);
    assert.match(message, /- \/a\/unicode_cmg\.node: not found\n {2}- \/b\/unicode_cmg\.node: bad ELF/);
    assert.match(
      message,
      /Fix: (npm install unicode-cmg-\S+|npx unicode-cmg build-native \(needs cmake, a C\+\+ compiler)/,
    );
  });
});
