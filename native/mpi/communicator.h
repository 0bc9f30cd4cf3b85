// The MPI side of data-parallel training, in plain C++ (no N-API): one process group
// (MPI_COMM_WORLD), summed in place. The binding (mpi_binding.cc) validates the arguments.
#pragma once

#include <cstdint>
#include <string>

namespace ucmg::mpi {

// Starts MPI once per process (later calls do nothing) and registers MPI_Finalize at exit.
void initialize();
bool initialized();
int rank();
int size();
// Sums `length` values over every rank, in place; every rank must call it with the same length.
void allReduceSum(float* data, int64_t length);
void allReduceSum(double* data, int64_t length);
void barrier();
// Ends every rank of the job with `code` (MPI_Abort); never returns.
[[noreturn]] void abortAll(int code);
// "Open MPI v4.1.4, ..." as the library reports it (callable before initialize()).
std::string libraryVersion();

}  // namespace ucmg::mpi
