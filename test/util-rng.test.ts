import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Rng, type RngState } from '../src/util/rng.js';

// Outputs of the xoshiro128** reference C code (Blackman & Vigna), compiled and run separately.
const REFERENCE_FROM_1234 = [11520, 0, 5927040, 70819200, 2031721883, 1637235492];
const REFERENCE_1001ST = 1634835592; // state [0x9e3779b9, 0xdeadbeef, 0x12345678, 0xffffffff], draw 1001

test('rng: matches the xoshiro128** reference outputs', () => {
  const rng = Rng.fromState({ algorithm: 'xoshiro128**', s: [1, 2, 3, 4] });
  assert.deepEqual(
    REFERENCE_FROM_1234.map(() => rng.nextUint32()),
    REFERENCE_FROM_1234,
  );
  const other = Rng.fromState({ algorithm: 'xoshiro128**', s: [0x9e3779b9, 0xdeadbeef, 0x12345678, 0xffffffff] });
  for (let i = 0; i < 1000; i++) other.nextUint32();
  assert.equal(other.nextUint32(), REFERENCE_1001ST);
});

test('rng: the same seed gives the same stream, different seeds differ', () => {
  const draws = (seed: number): number[] => {
    const rng = new Rng(seed);
    return Array.from({ length: 8 }, () => rng.nextUint32());
  };
  assert.deepEqual(draws(7), draws(7));
  assert.notDeepEqual(draws(7), draws(8));
  assert.notDeepEqual(draws(0), draws(2 ** 32), 'bits above 32 matter');
  assert.notDeepEqual(draws(-1), draws(2 ** 32 - 1), 'the sign matters');
});

test('rng: state survives a JSON round trip and the continuation is identical', () => {
  const rng = new Rng(2023);
  for (let i = 0; i < 17; i++) rng.next();
  const saved: RngState = JSON.parse(JSON.stringify(rng.getState()));
  const sequence = (r: Rng): number[] => [r.next(), r.normal(), r.int(1000), ...r.permutation(6), r.nextUint32()];
  const expected = sequence(rng);
  assert.deepEqual(sequence(Rng.fromState(saved)), expected);
  const reused = new Rng(1);
  reused.setState(saved);
  assert.deepEqual(sequence(reused), expected);
});

test('rng: value ranges and distributions', () => {
  const rng = new Rng(11);
  const n = 60000;
  const counts = new Array(6).fill(0);
  let sum = 0;
  let sumSq = 0;
  for (let i = 0; i < n; i++) {
    const u = rng.next();
    assert.ok(u >= 0 && u < 1);
    counts[rng.int(6)] += 1;
    const z = rng.normal();
    sum += z;
    sumSq += z * z;
  }
  // Each face ~10000 +- 100 (sd); 5 sd bounds keep the test deterministic-seed-safe but meaningful.
  for (const c of counts) assert.ok(Math.abs(c - n / 6) < 500, `int(6) face count ${c}`);
  assert.ok(Math.abs(sum / n) < 0.03, `normal mean ${sum / n}`);
  assert.ok(Math.abs(sumSq / n - 1) < 0.04, `normal variance ${sumSq / n}`);
  assert.equal(rng.int(1), 0);
  assert.ok(rng.int(2 ** 32) < 2 ** 32);

  const p = rng.permutation(50);
  assert.deepEqual(
    [...p].sort((a, b) => a - b),
    Array.from({ length: 50 }, (_, i) => i),
  );
  assert.notDeepEqual(
    [...p],
    Array.from({ length: 50 }, (_, i) => i),
  );
  assert.equal(rng.permutation(0).length, 0);
});

test('rng: bad arguments throw errors naming them and change nothing', () => {
  assert.throws(() => new Rng(1.5), /seed/);
  assert.throws(() => new Rng(NaN), /seed/);
  const rng = new Rng(3);
  const state = rng.getState();
  assert.throws(() => rng.int(0), /n must be an integer/);
  assert.throws(() => rng.int(2.5), /n must be an integer/);
  assert.throws(() => rng.permutation(-1), /n must be/);
  assert.throws(() => rng.setState({ algorithm: 'xoshiro128**', s: [1, 2, 3] } as unknown as RngState), /state\.s/);
  assert.throws(() => rng.setState({ algorithm: 'xoshiro128**', s: [1, 2, 3, 2 ** 32] }), /state\.s\[3\]/);
  assert.throws(() => rng.setState({ algorithm: 'xoshiro128**', s: [0, 0, 0, 0] }), /all zero/);
  assert.throws(() => rng.setState({ algorithm: 'pcg32', s: [1, 2, 3, 4] } as unknown as RngState), /algorithm/);
  assert.deepEqual(rng.getState(), state);
});
