// CPU launcher of reluscope.certify's enclosures: threads over (network, data chunk) tasks; a task
// sums cert_sample over its samples (weight 0: skipped, it adds exactly 0) in interval arithmetic,
// in sample order. With one chunk per network the task writes its network's outputs itself; else
// the chunks' sums are kept and reduced per network in chunk order afterwards (cert_reduce_slot):
// results are deterministic for any thread count. Stops between samples on Ctrl-C (parallel.h).
// Time O(B N P^2) interval operations; memory per thread O(P^2 + rows) intervals, plus
// B x chunks x (1 + P + P^2) intervals when a network has several chunks.
#include <algorithm>
#include <vector>

#include "certify/certify.h"
#include "certify/certify_math.h"
#include "common/parallel.h"

namespace rs {

namespace {

// The outputs of network b from its C chunk sums (C x len intervals) and the chunks' flags.
void finish(const CertArgs& a, int64_t b, const Interval* part, int64_t C, int32_t flags) {
  const int64_t P = a.net.n_params, len = a.len();
  for (int64_t q = 0; q < len; ++q)
    flags |= cert_store_slot(a, b, q, cert_reduce_slot(part, C, len, P, q));
  a.out_flags[b] = flags;
}

}  // namespace

void certify_cpu(const CertArgs& a) {
  const NetSpec& net = a.net;
  const int64_t P = net.n_params, len = a.len(), C = a.C, tasks = a.B * C;
  std::vector<Interval> part(C > 1 ? size_t(tasks * len) : 0);
  std::vector<int32_t> part_flags(C > 1 ? size_t(tasks) : 0);
  parallel_for(tasks, 1, [&](int64_t begin, int64_t end, int) {
    std::vector<Interval> s(static_cast<size_t>(a.lay.rows)), th(static_cast<size_t>(2 * P)),
        acc(static_cast<size_t>(len));
    for (int64_t task = begin; task < end && !stop_requested(); ++task) {
      const int64_t b = task / C, c = task % C;
      const int64_t n0 = a.N * c / C, n1 = a.N * (c + 1) / C;
      const double* x = a.x + (a.x_per_net ? b * a.N * net.d_in : 0);
      const double* t = a.t + (a.t_per_net ? b * a.N * net.d_out : 0);
      const double* w = a.w + (a.w_per_net ? b * a.N : 0);
      const Interval* tc = cert_box(a, b, th.data());
      std::fill(acc.begin(), acc.end(), point(0.0));
      int32_t flags = 0;
      for (int64_t n = n0; n < n1 && !stop_requested(); ++n)
        if (w[n] != 0.0)
          flags |= cert_sample(a, th.data(), tc, x + n * net.d_in, t + n * net.d_out, w[n],
                               s.data(), acc.data());
      if (C == 1) {
        finish(a, b, acc.data(), 1, flags);
      } else {
        std::copy(acc.begin(), acc.end(), part.begin() + task * len);
        part_flags[size_t(task)] = flags;
      }
    }
  });
  if (C == 1 || stop_requested()) return;
  parallel_for(a.B, 1, [&](int64_t begin, int64_t end, int) {
    for (int64_t b = begin; b < end; ++b) {
      int32_t flags = 0;
      for (int64_t c = 0; c < C; ++c) flags |= part_flags[size_t(b * C + c)];
      finish(a, b, part.data() + b * C * len, C, flags);
    }
  });
}

}  // namespace rs
