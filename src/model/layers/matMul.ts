// Matrix products of the layers, on the plain tfjs op and its gradient. How a backend runs the
// transposed products fast is src/dense's business.
import { tf } from '../../tfjs.js';

/** a·b for rank-2 or equally batched rank-3 operands, differentiable w.r.t. both. */
export function matMul(a: tf.Tensor, b: tf.Tensor): tf.Tensor {
  return tf.matMul(a, b);
}

/** x·wᵀ for a torch-layout weight w [out, in]. */
export function matMulByTransposed(x: tf.Tensor, w: tf.Tensor): tf.Tensor {
  return tf.matMul(x, w, false, true);
}
