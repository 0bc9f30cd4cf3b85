// The one interface data-parallel training reduces through. A process group of `size` ranks;
// every collective must be called by every rank, in the same order, with buffers of the same
// types and lengths. The MPI implementation is in mpi.ts; a GPU one (NCCL, dlopen'd at run
// time) would implement the same four calls on device buffers (docs/distributed.md).

/** A buffer summed in place. float64 carries the codebook statistics exactly. */
export type ReduceBuffer = Float32Array | Float64Array;

export interface Communicator {
  readonly rank: number;
  readonly size: number;
  /** Replaces every buffer by its sum over all ranks (in place); returns once the sums are there. */
  allReduceSum(buffers: ReduceBuffer[]): void;
  barrier(): void;
  /** Ends every rank of the job with `code` (1..255); never returns. */
  abort(code: number): never;
}

/** rank and size as a short label for messages: "rank 1 of 3". */
export function describeRank(comm: Communicator): string {
  return `rank ${comm.rank} of ${comm.size}`;
}

/**
 * Throws on every rank, naming the ranks that differ, unless all ranks hold the same `checksum`
 * (a non-negative safe integer). Each rank writes its value into its own slot of a zeroed float64
 * vector, so the sum is an exact all-gather.
 */
export function assertSameOnAllRanks(comm: Communicator, checksum: number, what: string): void {
  if (!Number.isSafeInteger(checksum) || checksum < 0) {
    throw new RangeError(`assertSameOnAllRanks: checksum must be a non-negative safe integer, got ${String(checksum)}`);
  }
  const slots = new Float64Array(comm.size);
  slots[comm.rank] = checksum;
  comm.allReduceSum([slots]);
  const differing = Array.from(slots.keys()).filter((r) => slots[r] !== slots[0]);
  if (differing.length > 0) {
    const values = Array.from(slots, (v, r) => `rank ${r}: ${v.toString(16)}`).join(', ');
    throw new Error(`${what}: the ranks disagree (rank(s) ${differing.join(', ')} differ from rank 0; ${values})`);
  }
}
