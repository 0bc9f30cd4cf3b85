// Running one rank of a data-parallel job: an error on any rank must end the whole job at once,
// naming the rank (the others would otherwise wait forever in their next all-reduce).
import { type Communicator, describeRank } from './communicator.js';

/**
 * Runs `main`; if it throws (or anything throws uncaught meanwhile), prints the error with the rank
 * on stderr and aborts every rank of the job (exit status 1). mpirun likewise ends the job when a
 * rank is killed.
 */
export async function runRank(comm: Communicator, main: () => Promise<void>): Promise<void> {
  const fail = (err: unknown): never => {
    const message = err instanceof Error ? err.message : String(err);
    process.stderr.write(`unicode-cmg: ${describeRank(comm)} failed, ending the job: ${message}\n`);
    return comm.abort(1);
  };
  process.on('uncaughtException', fail);
  process.on('unhandledRejection', fail);
  try {
    await main();
  } catch (err) {
    fail(err);
  } finally {
    process.off('uncaughtException', fail);
    process.off('unhandledRejection', fail);
  }
}
