// The Communicator over MPI_COMM_WORLD, through the addon's optional `mpi` export (compiled in
// when CMake found MPI, native/mpi/). Launch with `mpirun -np N ...`; a process started without
// mpirun is a world of one.
import { nativeBinding } from '../native/loader.js';
import type { Communicator, ReduceBuffer } from './communicator.js';

/** The addon's `mpi` export (not part of NativeBinding: builds without MPI lack it). */
interface NativeMpi {
  init(): void;
  rank(): number;
  size(): number;
  allReduceSum(buffers: ReduceBuffer[]): void;
  barrier(): void;
  abort(code: number): never;
  libraryVersion(): string;
}

/** The fix, in the words every "no MPI" message uses. */
export const MPI_BUILD_FIX =
  'install MPI (Debian/Ubuntu: `apt-get install libopenmpi-dev openmpi-bin`) and rebuild ' +
  'the addon with `npm run build:native` (CMake links MPI when it finds it)';

export interface MpiSupport {
  /** The addon was built with MPI. */
  built: boolean;
  /** "Open MPI v4.1.4" when built. */
  library: string | null;
  /** Why there is no MPI, when there is none. */
  reason?: string;
}

function nativeMpi(): NativeMpi | null {
  const binding = nativeBinding() as unknown as { mpi?: NativeMpi } | null;
  return binding?.mpi ?? null;
}

/** Whether this build can run data-parallel, and with which MPI library. */
export function mpiSupport(): MpiSupport {
  if (nativeBinding() === null) return { built: false, library: null, reason: 'the native addon is not loaded' };
  const mpi = nativeMpi();
  if (mpi === null) return { built: false, library: null, reason: 'the native addon was built without MPI' };
  return { built: true, library: mpi.libraryVersion() };
}

/** The world size mpirun (Open MPI, or a PMI launcher) gave this process, or undefined when not launched by one. */
export function launcherWorldSize(env: NodeJS.ProcessEnv = process.env): number | undefined {
  const text = env.OMPI_COMM_WORLD_SIZE ?? env.PMI_SIZE ?? env.PMIX_SIZE;
  if (text === undefined) return undefined;
  const size = Number(text);
  return Number.isInteger(size) && size >= 1 ? size : undefined;
}

let world: Communicator | undefined;

/**
 * MPI_COMM_WORLD as a Communicator (MPI is started on the first call, finalized at exit).
 * Throws, with the fix, when the addon has no MPI.
 */
export function mpiCommunicator(): Communicator {
  if (world !== undefined) return world;
  const mpi = nativeMpi();
  if (mpi === null) {
    throw new Error(`data-parallel training needs MPI, but ${mpiSupport().reason}: ${MPI_BUILD_FIX}`);
  }
  mpi.init();
  const rank = mpi.rank();
  const size = mpi.size();
  world = {
    rank,
    size,
    allReduceSum: (buffers) => mpi.allReduceSum(buffers),
    barrier: () => mpi.barrier(),
    abort: (code) => mpi.abort(code),
  };
  return world;
}
