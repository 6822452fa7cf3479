// The vector registers of the ISA that the calling thread's launcher code was compiled for, set
// by call_for_isa's wrappers around each launch (common/cpu_isa.h): 32 under AVX-512, 16 under
// AVX2 and the baseline. Loops that keep a register block of sums (lane_sums in
// model/lanes.h, LaneAcc::add_outer in hessian/hess_tasks_cpu.h) size the block by it: GCC
// spills a block sized for AVX-512's 32 registers on every step under AVX2. Host only;
// thread-local, so concurrent launches of different ISAs do not mix.
#pragma once

namespace rs {

inline int& vector_registers() {
  static thread_local int n = 16;
  return n;
}

// Sets vector_registers() for a scope (a launch), and restores the caller's value after it.
struct VectorRegistersScope {
  int saved;
  explicit VectorRegistersScope(int n) : saved(vector_registers()) { vector_registers() = n; }
  ~VectorRegistersScope() { vector_registers() = saved; }
  VectorRegistersScope(const VectorRegistersScope&) = delete;
  VectorRegistersScope& operator=(const VectorRegistersScope&) = delete;
};

}  // namespace rs
