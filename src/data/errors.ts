/**
 * Bad input to the data layer or the downstream tasks: a missing or malformed manifest, an array
 * whose shape disagrees with it, an unknown modality, split or task. The message names the file
 * and field (or argument) at fault; the CLI maps this class to a non-zero exit.
 */
export class InvalidInputError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'InvalidInputError';
  }
}
