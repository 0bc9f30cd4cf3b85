// tf.variableGrads that leaves no tensor behind when the function it differentiates throws.
// tfjs keeps the tensors each op saves for the backward pass alive until that pass frees them; a
// forward that throws never reaches it, so those tensors would stay allocated for good.
import { tf } from '../tfjs.js';

interface TapeNode {
  saved?: tf.Tensor[];
}

interface EngineState {
  activeTape: TapeNode[] | null;
  gradientDepth: number;
}

/**
 * tf.variableGrads(f, variables) in a tidy; on an exception, also frees the abandoned tape and
 * calls `onError` (for tensors f kept past the tidy).
 */
export function variableGradsOrNothing(
  f: () => tf.Scalar,
  variables: tf.Variable[],
  onError?: () => void,
): { value: tf.Scalar; grads: tf.NamedTensorMap } {
  try {
    return tf.tidy(() => tf.variableGrads(f, variables));
  } catch (err) {
    const state = (tf.engine() as unknown as { state: EngineState }).state;
    // Only the outermost gradient owns the tape; a nested one leaves it to its caller.
    if (state.gradientDepth === 0 && state.activeTape !== null) {
      state.activeTape.forEach((node) => node.saved?.forEach((t) => t.dispose()));
      state.activeTape = null;
    }
    onError?.();
    throw err;
  }
}
