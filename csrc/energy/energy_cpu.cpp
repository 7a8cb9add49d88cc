// CPU launcher of the energy ops: a parallel_for over examples, each handled by one thread
// with the bodies of minmin.h in a fixed sample order, so results do not depend on the thread
// count. Gradient accumulators are double (m weighted samples summed per example).

#include <algorithm>
#include <atomic>
#include <cstdint>
#include <limits>
#include <vector>

#include "energy_ops.h"

namespace pyalgo {
namespace energy {
namespace {

struct SerialAdd {
  template <typename G, typename V>
  void operator()(G* p, V v) const {
    *p += v;
  }
};

// Rows per task: enough samples per task to amortise scheduling.
template <typename F>
void for_each_row(int64_t B, int64_t cost_per_row, const F& body) {
  const int64_t grain = std::max<int64_t>(1, 16384 / std::max<int64_t>(cost_per_row, 1));
  parallel_for(0, B, grain, [&](int64_t begin, int64_t end) { body(begin, end); });
}

// kCpuBlocks Philox blocks of one row's stream from block `start` (integer arithmetic only, so the AVX2 clone
// gives the same words as the default one).
constexpr int kCpuBlocks = 16;
PYALGO_CPU_CLONES void philox_fill(PhiloxKey key, int64_t row, int64_t start, uint32_t stream, uint32_t* words) {
  PYALGO_SIMD
  for (int i = 0; i < kCpuBlocks; ++i) {
    const Philox4 p = philox_block(key, row, start + i, stream);
    words[4 * i] = p.x;
    words[4 * i + 1] = p.y;
    words[4 * i + 2] = p.z;
    words[4 * i + 3] = p.w;
  }
}

// WordCursor<16> of minmin.h (the same words), refilled by philox_fill.
struct CpuCursor {
  PhiloxKey key;
  int64_t row;
  uint32_t stream;
  int64_t first = -1;
  uint32_t words[4 * kCpuBlocks];
  CpuCursor(PhiloxKey k, int64_t r, uint32_t s) : key(k), row(r), stream(s) {}
  uint32_t operator()(int64_t c) {
    const int64_t block = c >> 2, start = block - block % kCpuBlocks;
    if (start != first) {
      philox_fill(key, row, start, stream, words);
      first = start;
    }
    return words[4 * (block - start) + (c & 3)];
  }
};

// The first (lowest) row that failed a check, noted by any thread of the pass and tested once
// after it: the checks run inside the kernel's loop, so torch.compile, validate=False and direct
// torch.ops calls cannot skip them.
struct BadRow {
  std::atomic<int64_t> row{std::numeric_limits<int64_t>::max()};
  void note(int64_t b) {
    int64_t cur = row.load(std::memory_order_relaxed);
    while (b < cur && !row.compare_exchange_weak(cur, b, std::memory_order_relaxed)) {
    }
  }
  bool any() const { return row.load() != std::numeric_limits<int64_t>::max(); }
  int64_t first() const { return row.load(); }
};  // 64 words per refill

PhiloxKey key_of(const int64_t* seed) { return philox_key(seed[0], seed[1]); }

// ---- rows split into lanes of samples ---------------------------------------------------------
//
// A row's m samples are split into L = min(kMaxLanes, ⌈m / kLaneSamples⌉) lanes of consecutive samples
// (lane l: samples ⌊m·l/L⌋ … ⌊m·(l+1)/L⌋ − 1). Each lane sums its samples from zero (sums and gradient
// accumulators) and the lanes are then added in lane order. L depends on m only, so the numbers do not
// depend on the thread count or the batch size; m ≤ kLaneSamples is one lane (the plain serial pass).
// Rows are processed in parallel; when L > 1 the (row, lane) pairs are, in groups whose lane accumulators
// fit kLaneBudget doubles (so a few rows with many samples use every thread). Memory stays flat in m.
constexpr int64_t kLaneSamples = 4096;
constexpr int kMaxLanes = 16;
constexpr int64_t kLaneBudget = int64_t(1) << 20;  // doubles of lane accumulators held at once (8 MiB)

inline int lanes_of(int64_t m) {
  return static_cast<int>(std::min<int64_t>(kMaxLanes, (m + kLaneSamples - 1) / kLaneSamples));
}
inline int64_t lane_begin(int64_t m, int lanes, int l) { return m * l / lanes; }

// A row job provides: bool valid(b) (checks; an invalid row's loss is NaN), A tau(b), A g_true(b),
// bool weighted(), void finish(b, RowResult, const double* acc) and a Local (per-task scratch) with
// void prepare(b) and void pass(b, shift, j0, j1, Sums&, double* acc) (acc: acc_size doubles, zeroed by the
// driver, or null without gradient).
template <typename A, class Job>
void run_rows(const Job& job, int64_t B, int64_t m, A alpha, int64_t acc_size, int64_t cost_per_sample) {
  const int L = lanes_of(m);
  const int64_t slot = acc_size;
  // one row: lanes in order, lane 0 straight into the totals, lanes 1.. through `lane` then added
  auto lanes_of_row = [&](typename Job::Local& loc, int64_t b, A shift, Sums<A>& total, double* acc_total,
                          double* acc_lane) {
    total = zero_sums<A>();
    if (slot) std::fill(acc_total, acc_total + slot, 0.0);
    loc.pass(b, shift, 0, lane_begin(m, L, 1), total, slot ? acc_total : nullptr);
    for (int l = 1; l < L; ++l) {
      Sums<A> s = zero_sums<A>();
      if (slot) std::fill(acc_lane, acc_lane + slot, 0.0);
      loc.pass(b, shift, lane_begin(m, L, l), lane_begin(m, L, l + 1), s, slot ? acc_lane : nullptr);
      add_sums(total, s);
      for (int64_t i = 0; i < slot; ++i) acc_total[i] += acc_lane[i];
    }
  };
  const int64_t group = L == 1 ? 0 : kLaneBudget / std::max<int64_t>(1, L * slot);
  if (group == 0) {  // rows in parallel, lanes in turn
    for_each_row(B, m * cost_per_sample, [&](int64_t begin, int64_t end) {
      typename Job::Local loc(job);
      std::vector<double> acc(slot), acc_lane(L > 1 ? slot : 0);
      for (int64_t b = begin; b < end; ++b) {
        if (!job.valid(b)) continue;
        loc.prepare(b);
        Sums<A> total;
        A shift = 0;
        lanes_of_row(loc, b, shift, total, acc.data(), acc_lane.data());
        if (needs_shift(alpha, total)) {
          shift = total.max_s;
          lanes_of_row(loc, b, shift, total, acc.data(), acc_lane.data());
        }
        job.finish(b, finish_row(total, job.tau(b), job.g_true(b), alpha, shift, m, job.weighted()), acc.data());
      }
    });
    return;
  }
  // (row, lane) pairs in parallel, `group` rows at a time
  const int64_t G = std::min<int64_t>(group, B);
  std::vector<Sums<A>> sums(G * L), total(G);
  std::vector<double> acc(G * L * slot);
  std::vector<A> shift(G);
  std::vector<char> ok(G), redo(G);
  for (int64_t g0 = 0; g0 < B; g0 += G) {
    const int64_t rows = std::min<int64_t>(G, B - g0);
    parallel_for(0, rows, 64, [&](int64_t begin, int64_t end) {
      for (int64_t r = begin; r < end; ++r) {
        ok[r] = job.valid(g0 + r);
        redo[r] = ok[r];
        shift[r] = 0;
      }
    });
    for (int attempt = 0; attempt < 2; ++attempt) {
      const int64_t grain = std::max<int64_t>(1, 4 * kLaneSamples / std::max<int64_t>(1, (m / L) * cost_per_sample));
      parallel_for(0, rows * L, grain, [&](int64_t begin, int64_t end) {
        typename Job::Local loc(job);
        int64_t prepared = -1;
        for (int64_t t = begin; t < end; ++t) {
          const int64_t r = t / L;
          const int l = static_cast<int>(t % L);
          if (!redo[r]) continue;
          if (prepared != g0 + r) {
            loc.prepare(g0 + r);
            prepared = g0 + r;
          }
          double* a = slot ? acc.data() + t * slot : nullptr;
          if (slot) std::fill(a, a + slot, 0.0);
          sums[t] = zero_sums<A>();
          loc.pass(g0 + r, shift[r], lane_begin(m, L, l), lane_begin(m, L, l + 1), sums[t], a);
        }
      });
      bool again = false;
      parallel_for(0, rows, 1, [&](int64_t begin, int64_t end) {
        for (int64_t r = begin; r < end; ++r) {
          if (!redo[r]) continue;
          total[r] = sums[r * L];
          double* a0 = acc.data() + r * L * slot;
          for (int l = 1; l < L; ++l) {
            add_sums(total[r], sums[r * L + l]);
            const double* al = a0 + l * slot;
            for (int64_t i = 0; i < slot; ++i) a0[i] += al[i];
          }
        }
      });
      for (int64_t r = 0; r < rows; ++r) {
        const bool shift_it = redo[r] && attempt == 0 && needs_shift(alpha, total[r]);
        if (shift_it) {
          shift[r] = total[r].max_s;
          again = true;
        }
        redo[r] = shift_it;
      }
      if (!again) break;
    }
    parallel_for(0, rows, 1, [&](int64_t begin, int64_t end) {
      for (int64_t r = begin; r < end; ++r) {
        if (!ok[r]) continue;
        const int64_t b = g0 + r;
        job.finish(b, finish_row(total[r], job.tau(b), job.g_true(b), alpha, shift[r], m, job.weighted()),
                   acc.data() + r * L * slot);
      }
    });
  }
}

// The proposal thresholds and constant of one row (bits).
struct BitsRowProposal {
  std::vector<uint32_t> thr;
  BitsProposal get(const double* proposal, int64_t b, int k) {
    if (!proposal) return BitsProposal{nullptr, nullptr, 0.0};
    thr.resize(k);
    const double* a = proposal + b * k;
    bits_thresholds(a, k, thr.data(), 0, 1);
    return BitsProposal{a, thr.data(), bits_log_c(a, k)};
  }
};

// The proposal of one row (perms); ex: n doubles of scratch.
inline PermsProposal perms_row_proposal(const double* proposal, int64_t b, int n, double log_q, double* ex) {
  if (!proposal) return PermsProposal{nullptr, 0.0, nullptr, 0.0};
  const double* s = proposal + b * n;
  double smax;
  const bool fast = perms_fast_row(s, n, ex, &smax);
  return PermsProposal{s, log_q, fast ? ex : nullptr, smax};
}

// minmin_bits: one row's checks, observed energy, pass and gradient.
template <typename A>
struct BitsJob {
  const A *u, *U, *tau_, *y;
  const double* proposal;
  PhiloxKey key;
  A alpha;
  A* loss;
  A *grad_u, *grad_U, *grad_tau;
  int k;
  int64_t kk, table_size;
  BadRow *bad_label, *bad_energy, *bad_proposal;

  bool weighted() const { return proposal != nullptr; }
  A tau(int64_t b) const { return tau_[b]; }
  bool valid(int64_t b) const {
    const A* ub = u + b * k;
    const A* Ub = U ? U + b * kk : nullptr;
    const bool labels_ok = is_binary(y + b * k, k, 0, 1);
    const bool finite_ok = all_finite(ub, k) && all_finite(tau_ + b, 1) && (!Ub || all_finite(Ub, kk));
    const bool proposal_ok = !proposal || all_finite(proposal + b * k, k);
    if (labels_ok && finite_ok && proposal_ok) return true;
    (!labels_ok ? bad_label : (!finite_ok ? bad_energy : bad_proposal))->note(b);
    loss[b] = std::numeric_limits<A>::quiet_NaN();
    return false;
  }
  A g_true(int64_t b) const { return dense_bits_energy(u + b * k, U ? U + b * kk : nullptr, k, y + b * k); }
  void finish(int64_t b, const RowResult<A>& r, const double* acc) const {
    loss[b] = r.loss;
    if (!grad_u) return;
    grad_tau[b] = r.grad_tau;
    finish_bits_grad<A, double>(nullptr, acc, U ? acc + table_size : nullptr, y + b * k, k, r.factor, grad_u + b * k,
                                grad_U ? grad_U + b * kk : nullptr, 0, 1);
  }
  struct Local {
    const BitsJob& job;
    std::vector<A> table;
    BitsRowProposal rp;
    BitsProposal prop{nullptr, nullptr, 0.0};
    explicit Local(const BitsJob& j) : job(j), table(j.table_size) {}
    void prepare(int64_t b) {
      build_byte_table(job.u + b * job.k, job.k, table.data(), 0, 1);
      prop = rp.get(job.proposal, b, job.k);
    }
    void pass(int64_t b, A shift, int64_t j0, int64_t j1, Sums<A>& sums, double* acc) const {
      CpuCursor cur(job.key, b, job.proposal ? kBitsProposalStream : kBitsStream);
      const A* Ub = job.U ? job.U + b * job.kk : nullptr;
      double* acc_U = acc && Ub ? acc + job.table_size : nullptr;
      if (job.proposal)
        bits_pass<true, 16, A, double, CpuCursor>(job.u + b * job.k, table.data(), Ub, job.k, job.tau_[b], job.alpha,
                                                  shift, cur, j0, j1, sums, nullptr, acc, acc_U, SerialAdd{}, prop);
      else
        bits_pass<false, 16, A, double, CpuCursor>(job.u + b * job.k, table.data(), Ub, job.k, job.tau_[b], job.alpha,
                                                   shift, cur, j0, j1, sums, nullptr, acc, acc_U, SerialAdd{});
    }
  };
};

// minmin_perms: the same for permutations.
template <typename A>
struct PermsJob {
  const A *theta, *tau_;
  const int64_t* y;
  const double* proposal;
  double log_q;
  PhiloxKey key;
  A alpha;
  A* loss;
  A *grad_theta, *grad_tau;
  bool birkhoff;
  int n;
  int64_t size;
  BadRow *bad_label, *bad_energy, *bad_proposal;

  bool weighted() const { return proposal != nullptr; }
  A tau(int64_t b) const { return tau_[b]; }
  bool valid(int64_t b) const {
    const bool labels_ok = is_perm(y + b * n, n);  // an index out of range would read theta out of bounds
    const bool finite_ok = all_finite(theta + b * size, size) && all_finite(tau_ + b, 1);
    const bool proposal_ok = !proposal || all_finite(proposal + b * n, n);
    if (labels_ok && finite_ok && proposal_ok) return true;
    (!labels_ok ? bad_label : (!finite_ok ? bad_energy : bad_proposal))->note(b);
    loss[b] = std::numeric_limits<A>::quiet_NaN();
    return false;
  }
  A g_true(int64_t b) const { return perm_energy(theta + b * size, birkhoff, n, y + b * n); }
  void finish(int64_t b, const RowResult<A>& r, const double* acc) const {
    loss[b] = r.loss;
    if (!grad_theta) return;
    grad_tau[b] = r.grad_tau;
    finish_perm_grad<A, double>(acc, y + b * n, birkhoff, n, r.factor, grad_theta + b * size, 0, 1);
  }
  struct Local {
    const PermsJob& job;
    PermsProposal prop{nullptr, 0.0, nullptr, 0.0};
    double ex[kMaxItems];
    explicit Local(const PermsJob& j) : job(j) {}
    void prepare(int64_t b) { prop = perms_row_proposal(job.proposal, b, job.n, job.log_q, ex); }
    void pass(int64_t b, A shift, int64_t j0, int64_t j1, Sums<A>& sums, double* acc) const {
      CpuCursor cur(job.key, b, job.proposal ? kPermsProposalStream : kPermsStream);
      if (job.proposal)
        perms_pass<true, A, double, CpuCursor>(job.theta + b * job.size, job.birkhoff, job.n, job.tau_[b], job.alpha,
                                               shift, cur, j0, j1, sums, acc, SerialAdd{}, prop);
      else
        perms_pass<false, A, double, CpuCursor>(job.theta + b * job.size, job.birkhoff, job.n, job.tau_[b], job.alpha,
                                                shift, cur, j0, j1, sums, acc, SerialAdd{});
    }
  };
};

struct CpuLaunch {
  static void sample_bits(const int64_t* seed, uint8_t* out, int64_t B, int64_t m, int k) {
    const PhiloxKey key = key_of(seed);
    for_each_row(B, m * k, [&](int64_t begin, int64_t end) {
      uint32_t y[kMaxWords];
      for (int64_t b = begin; b < end; ++b) {
        CpuCursor cur(key, b, kBitsStream);
        for (int64_t j = 0; j < m; ++j) {
          load_bits(cur, j, k, y);
          uint8_t* o = out + (b * m + j) * k;
          for (int i = 0; i < k; ++i) o[i] = static_cast<uint8_t>(bit_at(y, i));
        }
      }
    });
  }

  static void sample_perms(const int64_t* seed, int64_t* out, int64_t B, int64_t m, int n) {
    const PhiloxKey key = key_of(seed);
    for_each_row(B, m * n, [&](int64_t begin, int64_t end) {
      uint8_t perm[kMaxItems];
      for (int64_t b = begin; b < end; ++b) {
        CpuCursor cur(key, b, kPermsStream);
        for (int64_t j = 0; j < m; ++j) {
          load_perm(cur, j, n, perm);
          int64_t* o = out + (b * m + j) * n;
          for (int i = 0; i < n; ++i) o[i] = perm[i];
        }
      }
    });
  }

  // Proposal samplers: the samples and log weights the losses draw (minmin.h).
  static void sample_bits_proposal(const int64_t* seed, const double* a, uint32_t* /*scratch*/, uint8_t* out,
                                   double* log_w, int64_t B, int64_t m, int k) {
    const PhiloxKey key = key_of(seed);
    for_each_row(B, m * k, [&](int64_t begin, int64_t end) {
      uint32_t y[kMaxWords];
      BitsRowProposal rp;
      for (int64_t b = begin; b < end; ++b) {
        const BitsProposal prop = rp.get(a, b, k);
        CpuCursor cur(key, b, kBitsProposalStream);
        for (int64_t j = 0; j < m; ++j) {
          log_w[b * m + j] = prop.log_c - load_bits_proposal(cur, j, k, prop, y);
          uint8_t* o = out + (b * m + j) * k;
          for (int i = 0; i < k; ++i) o[i] = static_cast<uint8_t>(bit_at(y, i));
        }
      }
    });
  }

  static void sample_perms_proposal(const int64_t* seed, const double* s, double log_q, int64_t* out, double* log_w,
                                    int64_t B, int64_t m, int n) {
    const PhiloxKey key = key_of(seed);
    for_each_row(B, m * n * 4, [&](int64_t begin, int64_t end) {
      uint8_t perm[kMaxItems], order[kMaxItems];
      double keys[kMaxItems], ex[kMaxItems];
      for (int64_t b = begin; b < end; ++b) {
        const PermsProposal prop = perms_row_proposal(s, b, n, log_q, ex);
        CpuCursor cur(key, b, kPermsProposalStream);
        for (int64_t j = 0; j < m; ++j) {
          log_w[b * m + j] = log_q - load_perm_proposal(cur, j, n, prop, keys, order, perm);
          int64_t* o = out + (b * m + j) * n;
          for (int i = 0; i < n; ++i) o[i] = perm[i];
        }
      }
    });
  }

  template <typename A>
  static void minmin_bits(const A* u, const A* U, const A* tau, const A* y, const double* proposal,
                          uint32_t* /*scratch*/, const int64_t* seed, A* loss, A* grad_u, A* grad_U, A* grad_tau,
                          int64_t B, int k, int64_t m, A alpha) {
    const int64_t kk = static_cast<int64_t>(k) * k, table_size = bits_bytes(k) * 256;
    const bool grad = grad_u != nullptr;
    BadRow bad_label, bad_energy, bad_proposal;
    const BitsJob<A> job{u, U, tau, y, proposal, key_of(seed), alpha, loss, grad_u, grad_U, grad_tau, k, kk,
                         table_size, &bad_label, &bad_energy, &bad_proposal};
    // per sample: the energy (byte lookups + pairs of set bits) and, with a proposal, k words
    const int64_t cost = (U ? kk / 4 + k : k) + (proposal ? 4 * k : 0);
    run_rows<A>(job, B, m, alpha, grad ? table_size + (U ? kk : 0) : 0, cost);
    const char* fn = "pyalgo.energy.minmin_loss";
    PYALGO_CHECK(!bad_label.any(), fn, ": y must be binary (every entry 0 or 1); row ", bad_label.first(), " is not");
    PYALGO_CHECK(!bad_energy.any(), fn, ": unary, pairwise and tau must be finite (no NaN or inf energies); row ",
                bad_energy.first(), " is not");
    PYALGO_CHECK(!bad_proposal.any(), fn, ": proposal must be finite (no NaN or inf logits); row ",
                bad_proposal.first(), " is not");
  }

  template <typename A>
  static void minmin_perms(const A* theta, bool birkhoff, const A* tau, const int64_t* y, const double* proposal,
                           double log_q, const int64_t* seed, A* loss, A* grad_theta, A* grad_tau, int64_t B, int n,
                           int64_t m, A alpha) {
    const int64_t size = birkhoff ? static_cast<int64_t>(n) * n : n;
    BadRow bad_label, bad_energy, bad_proposal;
    const PermsJob<A> job{theta, tau, y, proposal, log_q, key_of(seed), alpha, loss, grad_theta, grad_tau, birkhoff,
                          n, size, &bad_label, &bad_energy, &bad_proposal};
    run_rows<A>(job, B, m, alpha, grad_theta ? size : 0, n * (proposal ? 8 : 2));
    const char* fn = "pyalgo.energy.minmin_loss_ranking";
    PYALGO_CHECK(!bad_label.any(), fn, ": y must hold a permutation of 0..n-1 in every row; row ", bad_label.first(),
                " is not");
    PYALGO_CHECK(!bad_energy.any(), fn, ": theta and tau must be finite (no NaN or inf energies); row ",
                bad_energy.first(), " is not");
    PYALGO_CHECK(!bad_proposal.any(), fn, ": proposal must be finite (no NaN or inf scores); row ",
                bad_proposal.first(), " is not");
  }
};

}  // namespace

STABLE_TORCH_LIBRARY_IMPL(pyalgo, CPU, m) { PYALGO_REGISTER_ENERGY_OPS(m, CpuLaunch); }

}  // namespace energy
}  // namespace pyalgo
