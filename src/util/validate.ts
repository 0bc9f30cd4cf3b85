// The one way this library throws for bad arguments and bad input: "<where>: <what is wrong>",
// where `where` names the function, file or option at fault, as the error class of the caller's
// layer (InvalidInputError for data and downstream input, Error for programming mistakes).
// Free of tfjs, so that every layer can use it.

export type ErrorClass = new (message: string) => Error;

/** Throws `kind` with the message "<where>: <message>". */
export function fail(where: string, message: string, kind: ErrorClass = Error): never {
  throw new kind(`${where}: ${message}`);
}

/**
 * fail() bound to one input with named fields, for code that reports many problems of it:
 * `report(field, why)` throws "<where>: '<field>' <why>".
 */
export function fieldFailureIn(where: string, kind: ErrorClass = Error): (field: string, why: string) => never {
  return (field, why) => fail(where, `'${field}' ${why}`, kind);
}
