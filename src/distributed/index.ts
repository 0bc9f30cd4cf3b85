// Synchronous data-parallel pretraining (docs/distributed.md).
export { type Communicator, type ReduceBuffer, assertSameOnAllRanks, describeRank } from './communicator.js';
export {
  type BatchShard,
  DataParallel,
  type DataParallelOptions,
  DEFAULT_CHECKSUM_EVERY,
  shardOf,
} from './dataParallel.js';
export { MPI_BUILD_FIX, type MpiSupport, launcherWorldSize, mpiCommunicator, mpiSupport } from './mpi.js';
export { runRank } from './launch.js';
export { checksumOf } from './checksum.js';
