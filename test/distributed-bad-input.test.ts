// Splitting a global batch, and the clear errors of data-parallel runs, programmatic and from the
// CLI: a batch smaller than the world, and no MPI in the addon. The mpirun cases are skipped, with
// the reason, without MPI.
import { test } from 'node:test';
import fs from 'node:fs';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { assertSameOnAllRanks, checksumOf, mpiSupport, shardOf } from '../src/distributed/index.js';
import type { Communicator } from '../src/distributed/communicator.js';
import { nativeBinding } from '../src/native/loader.js';
import { WORKER, mpiSkipReason, runJob, tempDir, workerEnv } from './distributed-support.js';
import { freeingGetter } from './native-support.js';

test('shardOf splits every global batch contiguously, without overlap, the sizes differing by at most one', () => {
  for (let size = 1; size <= 5; size++) {
    for (let global = size; global <= 23; global++) {
      const shards = Array.from({ length: size }, (_, rank) => shardOf(global, rank, size));
      let next = 0;
      for (const s of shards) {
        assert.equal(s.offset, next, `global ${global}, size ${size}: shards are contiguous in rank order`);
        assert.equal(s.global, global);
        next += s.local;
      }
      assert.equal(next, global, `global ${global}, size ${size}: every clip is in exactly one shard`);
      const sizes = shards.map((s) => s.local);
      assert.ok(Math.max(...sizes) - Math.min(...sizes) <= 1, `global ${global}, size ${size}: ${sizes.join(', ')}`);
    }
  }
  assert.deepEqual(shardOf(16, 0, 3), { offset: 0, local: 6, global: 16 });
  assert.deepEqual(shardOf(16, 2, 3), { offset: 11, local: 5, global: 16 });
  assert.throws(
    () => shardOf(2, 0, 3),
    /a global batch of 2 clips cannot be split over 3 ranks.*batch size >= the world size, 3/,
  );
  assert.throws(() => shardOf(4, 3, 3), /rank must be an integer in \[0, 3\)/);
});

test('a global batch smaller than the world size ends the job with a clear error', { skip: mpiSkipReason() }, () => {
  const run = runJob({ batches: 1, batchSize: 2, epochs: 1, out: tempDir('small-batch') }, 3);
  assert.notEqual(run.status, 0);
  assert.match(
    run.stderr,
    /rank \d of 3 failed, ending the job: a global batch of 2 clips cannot be split over 3 ranks/,
  );
  assert.equal(run.results.length, 0);
});

test('asking for data parallelism without MPI in the addon says so and how to fix it', () => {
  const job = { distributed: true, out: tempDir('no-mpi'), batches: 1, batchSize: 4, epochs: 1 };
  const env = workerEnv({ UCMG_NATIVE: '0' });
  const run = spawnSync(process.execPath, [WORKER, JSON.stringify(job)], { encoding: 'utf8', env });
  assert.notEqual(run.status, 0);
  assert.match(run.stderr, /data-parallel training needs MPI, but the native addon is not loaded: install MPI/);
  assert.match(run.stderr, /apt-get install libopenmpi-dev openmpi-bin.*npm run build:native/);
});

const CLI = path.join(path.dirname(fileURLToPath(import.meta.url)), '..', 'src', 'cli', 'main.js');

test('pretrain --distributed without MPI in the addon stops with the fix and writes nothing', () => {
  const out = path.join(tempDir('cli-no-mpi'), 'run');
  const run = spawnSync(process.execPath, [CLI, 'pretrain', '--distributed', '--max-steps', '1', '--out', out], {
    encoding: 'utf8',
    env: workerEnv({ UCMG_NATIVE: '0' }),
  });
  assert.notEqual(run.status, 0);
  assert.match(run.stderr, /pretrain: error: data-parallel training needs MPI.*apt-get install libopenmpi-dev/);
  assert.equal(fs.existsSync(out), false);
});

test('mpirun pretrain with --batch-size below the world size ends the job naming the fix', {
  skip: mpiSkipReason(),
}, () => {
  const out = path.join(tempDir('cli-small-batch'), 'run');
  const args = ['--oversubscribe', '-np', '3', process.execPath, CLI, 'pretrain', '--batch-size', '2', '--out', out];
  const run = spawnSync('mpirun', args, { encoding: 'utf8', env: workerEnv() });
  assert.notEqual(run.status, 0);
  assert.match(run.stderr, /rank \d of 3 failed, ending the job: --batch-size 2 is the global batch .* over 3 ranks/);
  assert.equal(fs.existsSync(out), false);
});

test('the native MPI binding names a bad argument and refuses to reduce before MPI is started', {
  skip: mpiSupport().reason,
}, () => {
  // Validation comes before any MPI call, so this process never becomes an MPI singleton.
  type Mpi = { allReduceSum(b: unknown): void; abort(code: unknown): void };
  const mpi = (nativeBinding() as unknown as { mpi: Mpi }).mpi;
  assert.throws(() => mpi.allReduceSum('x'), /mpi.allReduceSum: buffers must be an Array of Float32Array or/);
  assert.throws(
    () => mpi.allReduceSum([new Float32Array(1), new Int32Array(1)]),
    /mpi.allReduceSum: buffers\[1\] must be a Float32Array or Float64Array, got/,
  );
  assert.throws(() => mpi.allReduceSum([new Float32Array(1)]), /MPI is not initialized/);
  assert.throws(() => mpi.abort(0), /mpi.abort.*code/);
  // An element getter that frees an earlier buffer is refused before any pointer is taken.
  const first = new Float32Array(1024);
  const buffers: unknown[] = [first, new Float32Array(1)];
  const getter = freeingGetter(buffers, '1', first);
  assert.throws(() => mpi.allReduceSum(buffers), /mpi.allReduceSum: buffers\[1\] must be a data property/);
  assert.equal(getter.calls, 0);
});

test('ranks that disagree are an error naming them; the checksum sees a one-bit change', () => {
  // Rank 0 of a two-rank world whose rank 1 reports another checksum: the exact all-gather shows it.
  const other = (value: number): Communicator => ({
    rank: 0,
    size: 2,
    allReduceSum: (buffers) => {
      buffers[0][1] = value;
    },
    barrier: () => {},
    abort: () => {
      throw new Error('abort');
    },
  });
  const state = [Float32Array.of(1, 2, 3), Int32Array.of(-1, 0)];
  const sum = checksumOf(state);
  assert.doesNotThrow(() => assertSameOnAllRanks(other(sum), sum, 'after step 3, the state'));
  assert.throws(
    () => assertSameOnAllRanks(other(sum + 1), sum, 'after step 3, the state'),
    /after step 3, the state: the ranks disagree \(rank\(s\) 1 differ from rank 0/,
  );
  const flipped = Float32Array.of(1, 2, 3);
  new Uint32Array(flipped.buffer)[1] ^= 1;
  assert.notEqual(checksumOf([flipped, state[1]]), sum);
  assert.notEqual(checksumOf([Float32Array.of(1, 2), Float32Array.of(3), state[1]]), sum, 'array boundaries count');
});
