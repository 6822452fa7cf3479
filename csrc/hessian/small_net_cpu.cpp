// CPU launcher of the Hessian engine's small-net path (small_net_cpu.h): the task loop of
// hess_tasks_cpu.h with small_net_tile on each tile, the hidden activation dispatched per tile.
// Time O(B N (P + K P)); memory per thread: as hess_tile's launcher, plus K + 1 parameter sets.
#include "hessian/small_net_cpu.h"

#include "hessian/hess_tasks_cpu.h"
#include "model/lanes.h"

namespace rs {

namespace {

template <typename T>
struct SmallTiles {
  const HessArgs<T>& a;
  SmallNet<T> net;
  void task(const T* theta, const T* v, const T* s) { net.task(a, theta, v, s); }
  static constexpr int kRows = kSmallRows;
  // x86 CPUs without AVX2 take hess_tile (hess_cpu): a baseline copy of this path would add
  // minutes of compile time for them alone
  static constexpr bool kVectorIsaOnly = true;
  void tile(const T* const* row, LaneAcc<T>& acc) {
    with_activation(a.net.layer[0].act, [&](auto tag) {
      small_net_tile<decltype(tag)::value>(a, net, row, acc.valid, acc.p);
    });
  }
};

}  // namespace

template <typename T>
void hess_small_cpu(const HessArgs<T>& a) {
  hess_cpu_tasks(a, [&] { return SmallTiles<T>{a, SmallNet<T>(a)}; });
}

template void hess_small_cpu<float>(const HessArgs<float>&);
template void hess_small_cpu<double>(const HessArgs<double>&);

}  // namespace rs
