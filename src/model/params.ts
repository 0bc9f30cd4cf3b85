// Trainable parameters of one model: tf.Variables keyed by a logical name ("semantic.audio.proj.weight")
// and grouped by sub-model ("semantic.audio"), created deterministically from a seeded Rng.
// Groups are the unit of gradient clipping and of optimizer ownership.
import type { Variable } from '@tensorflow/tfjs-core';
import { tf } from '../tfjs.js';
import type { Rng } from '../util/rng.js';

export interface WeightArray {
  dtype: 'float32';
  shape: number[];
  data: Float32Array;
}

interface Entry {
  group: string;
  variable: Variable;
}

// tfjs variable names are global to the engine; a per-store prefix lets several models coexist.
let storeCounter = 0;

export class ParamStore {
  private readonly entries = new Map<string, Entry>();
  private readonly prefix = `ucmg${storeCounter++}`;

  constructor(private readonly rng: Rng) {}

  /** A variable drawn from U(-bound, bound) (torch's default Linear/LSTM/conv init uses bound 1/sqrt(fan_in)). */
  uniform(group: string, name: string, shape: number[], bound: number): Variable {
    const size = shape.reduce((a, b) => a * b, 1);
    const data = new Float32Array(size);
    // One 32-bit draw per value is plenty for float32 (and halves the init time at the paper size).
    for (let i = 0; i < size; i++) data[i] = ((this.rng.nextUint32() + 0.5) * 2 ** -31 - 1) * bound;
    return this.add(group, name, shape, data);
  }

  /** A variable filled with one value (LayerNorm gain 1 and bias 0). */
  constant(group: string, name: string, shape: number[], value: number): Variable {
    return this.add(group, name, shape, new Float32Array(shape.reduce((a, b) => a * b, 1)).fill(value));
  }

  private add(group: string, name: string, shape: number[], data: Float32Array): Variable {
    if (this.entries.has(name)) throw new Error(`ParamStore: parameter '${name}' already exists`);
    const initial = tf.tensor(data, shape, 'float32');
    const variable = tf.variable(initial, true, `${this.prefix}/${name}`);
    initial.dispose(); // the variable keeps the data
    this.entries.set(name, { group, variable });
    return variable;
  }

  get(name: string): Variable {
    const entry = this.entries.get(name);
    if (entry === undefined) throw new Error(`ParamStore: no parameter named '${name}'`);
    return entry.variable;
  }

  /** Logical names in creation order (stable across runs of the same config). */
  names(): string[] {
    return [...this.entries.keys()];
  }

  /** Sub-model groups in creation order. */
  groups(): string[] {
    return [...new Set([...this.entries.values()].map((e) => e.group))];
  }

  /** Names of one group's parameters, in creation order. */
  namesIn(group: string): string[] {
    return [...this.entries].filter(([, e]) => e.group === group).map(([name]) => name);
  }

  variablesIn(group: string): Variable[] {
    return this.namesIn(group).map((name) => this.get(name));
  }

  /** The tfjs (engine-unique) name of a parameter, as optimizers key their state. */
  engineName(name: string): string {
    return this.get(name).name;
  }

  exportWeights(): Record<string, WeightArray> {
    const out: Record<string, WeightArray> = {};
    for (const [name, { variable }] of this.entries) {
      // A copy: some backends hand out their live buffer.
      out[name] = { dtype: 'float32', shape: [...variable.shape], data: (variable.dataSync() as Float32Array).slice() };
    }
    return out;
  }

  /**
   * Assigns the given weights. All are checked (names, shapes, finiteness) before any is assigned,
   * so a rejected call changes nothing. With `partial`, parameters absent from `weights` keep their values.
   */
  importWeights(
    weights: Record<string, { shape: readonly number[]; data: ArrayLike<number> }>,
    { partial = false } = {},
  ): void {
    this.checkWeights(weights, { partial });
    for (const [name, w] of Object.entries(weights)) {
      const variable = this.get(name);
      tf.tidy(() => variable.assign(tf.tensor(Float32Array.from(w.data), variable.shape, 'float32')));
    }
  }

  /** The checks of importWeights, without assigning anything. */
  checkWeights(
    weights: Record<string, { shape: readonly number[]; data: ArrayLike<number> }>,
    { partial = false } = {},
  ): void {
    if (weights === null || typeof weights !== 'object')
      throw new TypeError('importWeights: weights must be an object');
    for (const name of Object.keys(weights)) {
      if (!this.entries.has(name)) throw new Error(`importWeights: unknown parameter '${name}'`);
    }
    for (const [name, { variable }] of this.entries) {
      const w = weights[name];
      if (w === undefined) {
        if (partial) continue;
        throw new Error(`importWeights: missing parameter '${name}'`);
      }
      if (w.shape.length !== variable.shape.length || w.shape.some((d, i) => d !== variable.shape[i])) {
        throw new Error(
          `importWeights: '${name}' has shape [${w.shape.join(', ')}], expected [${variable.shape.join(', ')}]`,
        );
      }
      if (w.data.length !== variable.size)
        throw new Error(`importWeights: '${name}' has ${w.data.length} values, expected ${variable.size}`);
      for (let i = 0; i < w.data.length; i++) {
        if (!Number.isFinite(w.data[i]))
          throw new Error(`importWeights: '${name}' holds a non-finite value at index ${i}`);
      }
    }
  }

  dispose(): void {
    for (const { variable } of this.entries.values()) variable.dispose();
    this.entries.clear();
  }
}
