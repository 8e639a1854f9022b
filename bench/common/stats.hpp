// The statistics of the benchmark programs.
#pragma once

#include <algorithm>
#include <cmath>
#include <cstddef>
#include <vector>

namespace hyperamp::bench {

/// Nearest-rank percentile, p in (0, 1]; NaN for no samples.
inline double percentile(std::vector<double> v, double p) {
  if (v.empty())
    return NAN;
  const auto rank =
      static_cast<std::size_t>(std::ceil(p * static_cast<double>(v.size())));
  const std::size_t k = std::min(v.size() - 1, rank == 0 ? 0 : rank - 1);
  std::nth_element(v.begin(), v.begin() + static_cast<std::ptrdiff_t>(k),
                   v.end());
  return v[k];
}

/// The median, the mean of the middle two for an even count; NaN for none.
inline double median(std::vector<double> v) {
  if (v.empty())
    return NAN;
  std::sort(v.begin(), v.end());
  const std::size_t n = v.size();
  return n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

/// The smallest and the largest figure (the spread); NaN for none.
struct spread {
  double min = NAN, max = NAN;
};

inline spread spread_of(const std::vector<double>& v) {
  if (v.empty())
    return {};
  const auto [lo, hi] = std::minmax_element(v.begin(), v.end());
  return {*lo, *hi};
}

} // namespace hyperamp::bench
