// What a failed training step must put back. A step changes state in this order: the RNG (its
// draws), the CLUB nets and their optimizers (the inner loop), the codebook (the MM-EMA update),
// and last the main weights and optimizer in one Adam step. That Adam step is the commit point:
// nothing after it can fail, so everything before it is captured here and restored on failure.
// Captures share tensor data with the live state (tfjs tensors are immutable; updates assign new
// ones) and cost no copy of the weights, also the codebook's device state on the cuda backend.
import type { CodebookSnapshot, SharedCodebook } from '../model/sharedCodebook.js';
import { tf } from '../tfjs.js';
import type { Rng, RngState } from '../util/rng.js';
import type { AdamSnapshot, ResumableAdam } from './adam.js';

export interface UndoableParts {
  rng: Rng;
  codebook: SharedCodebook;
  /** Variables the step changes before its commit point (the CLUB nets). */
  variables: tf.Variable[];
  /** Optimizers that step before the commit point (the CLUB nets'). */
  optimizers: ResumableAdam[];
}

export class StepUndo {
  private readonly rngState: RngState;
  private readonly codebook: CodebookSnapshot;
  private readonly values: tf.Tensor[];
  private readonly optimizers: AdamSnapshot[];

  constructor(private readonly parts: UndoableParts) {
    this.rngState = parts.rng.getState();
    this.codebook = parts.codebook.snapshot();
    this.values = parts.variables.map((v) => tf.clone(v));
    this.optimizers = parts.optimizers.map((o) => o.snapshot());
  }

  /** Puts every captured part back as it was. */
  rollback(): void {
    const { rng, codebook, variables, optimizers } = this.parts;
    rng.setState(this.rngState);
    codebook.rollback(this.codebook);
    variables.forEach((v, i) => v.assign(this.values[i]));
    optimizers.forEach((o, i) => o.rollback(this.optimizers[i]));
  }

  /** Frees the captures (after a commit, or after rollback()). */
  release(): void {
    this.parts.codebook.releaseSnapshot(this.codebook);
    tf.dispose(this.values);
    this.optimizers.forEach((s) => s.dispose());
  }
}
