// A stop-gradient for tfjs, which has none: the same values, and zeros as their gradient.
import { tf } from '../../tfjs.js';

const asDataOp = tf.customGrad((...args: (tf.Tensor | tf.GradSaveFunc)[]) => {
  const x = args[0] as tf.Tensor;
  return { value: tf.reshape(x, x.shape), gradFunc: (dy: tf.Tensor) => tf.zerosLike(dy) };
});

/** x as data: the same values with a zero gradient, so nothing is differentiated through it. */
export function asData<T extends tf.Tensor>(x: T): T {
  return asDataOp(x) as T;
}
