// Run-time choice of the widest x86 vector ISA a CPU launcher was also compiled for (functions
// with __attribute__((target(...)))), so one portable build runs AVX-512 code where the CPU has
// it. The environment variable RELUSCOPE_CPU_ISA = generic | avx2 | avx512 caps the choice (tests
// run every variant on one machine; users can rule out a suspect one). Read on every call: cheap
// next to any kernel launch, and a change of the variable takes effect at once.
#pragma once
#include <cstdlib>
#include <cstring>

#include "common/vector_registers.h"

namespace rs {

enum class CpuIsa { kGeneric = 0, kAvx2 = 1, kAvx512 = 2 };

#if defined(__x86_64__) && defined(__GNUC__)
#define RS_X86_MULTIVERSION 1
#include <cpuid.h>
#endif

// What this CPU and OS can run, read with cpuid and xgetbv directly (not __builtin_cpu_supports:
// the wheels' compiler, zig's clang, has no CPU-model runtime and would always answer no).
inline CpuIsa detected_cpu_isa() {
#if defined(RS_X86_MULTIVERSION)
  static const CpuIsa isa = [] {
    unsigned a, b, c, d;
    if (!__get_cpuid(1, &a, &b, &c, &d)) return CpuIsa::kGeneric;
    const bool fma = c & (1u << 12), osxsave = c & (1u << 27), avx = c & (1u << 28);
    if (!(osxsave && avx && fma)) return CpuIsa::kGeneric;
    unsigned xcr0_lo, xcr0_hi;
    __asm__ volatile("xgetbv" : "=a"(xcr0_lo), "=d"(xcr0_hi) : "c"(0));
    const bool ymm_state = (xcr0_lo & 0x6u) == 0x6u;     // SSE and AVX state saved by the OS
    const bool zmm_state = (xcr0_lo & 0xE6u) == 0xE6u;   // + opmask and the upper ZMM state
    if (!ymm_state || !__get_cpuid_count(7, 0, &a, &b, &c, &d)) return CpuIsa::kGeneric;
    const bool avx2 = b & (1u << 5), avx512f = b & (1u << 16), avx512dq = b & (1u << 17),
               avx512vl = b & (1u << 31);
    if (avx2 && zmm_state && avx512f && avx512dq && avx512vl) return CpuIsa::kAvx512;
    return avx2 ? CpuIsa::kAvx2 : CpuIsa::kGeneric;
  }();
  return isa;
#else
  return CpuIsa::kGeneric;
#endif
}

inline CpuIsa cpu_isa() {
  CpuIsa isa = detected_cpu_isa();
  if (const char* cap = std::getenv("RELUSCOPE_CPU_ISA")) {
    const CpuIsa limit = std::strcmp(cap, "generic") == 0 ? CpuIsa::kGeneric
                         : std::strcmp(cap, "avx2") == 0  ? CpuIsa::kAvx2
                                                          : CpuIsa::kAvx512;
    if (limit < isa) isa = limit;
  }
  return isa;
}

// Runs f() compiled for `isa`: each wrapper inlines the whole call tree of f (flatten) under its
// target attribute, so one generic lambda yields an AVX-512, an AVX2+FMA and a baseline version.
// (Clang's flatten needs the CPU launchers' inline threshold that CMakeLists.txt sets.)
#if defined(RS_X86_MULTIVERSION)
#if defined(__clang__)
#define RS_TARGET_AVX512 \
  __attribute__((target("avx512f,avx512vl,avx512dq,avx2,fma"), min_vector_width(512)))
#else  // GCC only uses 512-bit vectors when told to prefer them
#define RS_TARGET_AVX512 \
  __attribute__((target("avx512f,avx512vl,avx512dq,avx2,fma,prefer-vector-width=512")))
#endif
template <typename F>
RS_TARGET_AVX512 __attribute__((flatten)) void call_avx512(F& f) {
  VectorRegistersScope registers(32);
  f();
}

template <typename F>
__attribute__((target("avx2,fma"), flatten)) void call_avx2(F& f) {
  VectorRegistersScope registers(16);
  f();
}
#endif

template <typename F>
#if defined(__GNUC__)
__attribute__((flatten))
#endif
void call_generic(F& f) {
  VectorRegistersScope registers(16);
  f();
}

template <typename F>
void call_for_isa(CpuIsa isa, F&& f) {
#if defined(RS_X86_MULTIVERSION)
  if (isa == CpuIsa::kAvx512) return call_avx512(f);
  if (isa == CpuIsa::kAvx2) return call_avx2(f);
#endif
  (void)isa;
  call_generic(f);
}

// Whether the CPU runs the launchers that have no baseline version on x86 (call_for_one_isa):
// AVX2 or AVX-512 there; any CPU elsewhere.
inline bool vector_isa(CpuIsa isa) {
#if defined(RS_X86_MULTIVERSION)
  return isa != CpuIsa::kGeneric;
#else
  (void)isa;
  return true;
#endif
}

// f() compiled for the one ISA kIsa, for a launcher with a version of its own per ISA (the
// small-net path's vector width): AVX-512 or AVX2 on x86 (kGeneric is not used there), the
// baseline elsewhere.
template <CpuIsa kIsa, typename F>
void call_for_one_isa(F&& f) {
#if defined(RS_X86_MULTIVERSION)
  static_assert(kIsa != CpuIsa::kGeneric, "x86 takes this launcher under AVX2 or AVX-512 only");
  if constexpr (kIsa == CpuIsa::kAvx512)
    call_avx512(f);
  else
    call_avx2(f);
#else
  call_generic(f);
#endif
}

// f() as a function of its own, never inlined into its caller, compiled for kIsa as
// call_for_one_isa compiles it: for each tile kernel of the small-net path's flattened task
// loop. Inlined, GCC optimises the loop and all its kernels (each activation's, each inlined at
// both of the loop's call sites) as one function, and its global CSE (PRE) grows faster than
// linearly with a function's size: each of the path's two translation units took 110 s to
// compile, 14 s with its kernels apart, and the kernels run as fast (hess_tile's launcher, 91 s,
// would take 74 s apart, but its kernel ran up to 9 % slower: it stays inlined).
#if defined(RS_X86_MULTIVERSION)
template <typename F>
RS_TARGET_AVX512 __attribute__((flatten, noinline)) void apart_avx512(F& f) {
  f();
}
template <typename F>
__attribute__((target("avx2,fma"), flatten, noinline)) void apart_avx2(F& f) {
  f();
}
#endif

template <CpuIsa kIsa, typename F>
void call_apart(F&& f) {
#if defined(RS_X86_MULTIVERSION)
  static_assert(kIsa != CpuIsa::kGeneric, "x86 takes this launcher under AVX2 or AVX-512 only");
  if constexpr (kIsa == CpuIsa::kAvx512)
    apart_avx512(f);
  else
    apart_avx2(f);
#else
  f();
#endif
}

inline const char* cpu_isa_name(CpuIsa isa) {
  return isa == CpuIsa::kAvx512 ? "avx512" : isa == CpuIsa::kAvx2 ? "avx2" : "generic";
}

}  // namespace rs
