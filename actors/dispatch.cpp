#include "actors/dispatch.hpp"

#include <algorithm>
#include <memory>

namespace hyperamp::actors {

dispatch_policy least_loaded() {
  return
      [](const std::vector<std::uint32_t>& in_flight, std::uint32_t capacity) {
        auto best = std::min_element(in_flight.begin(), in_flight.end());
        if (best == in_flight.end() || *best >= capacity)
          return no_worker;
        return static_cast<std::size_t>(best - in_flight.begin());
      };
}

dispatch_policy round_robin() {
  auto next = std::make_shared<std::size_t>(0);
  return [next](const std::vector<std::uint32_t>& in_flight,
                std::uint32_t capacity) {
    const std::size_t n = in_flight.size();
    for (std::size_t k = 0; k < n; ++k) {
      const std::size_t w = (*next + k) % n;
      if (in_flight[w] < capacity) {
        *next = (w + 1) % n;
        return w;
      }
    }
    return no_worker;
  };
}

dispatch_policy make_policy(dispatch_kind k) {
  return k == dispatch_kind::round_robin ? round_robin() : least_loaded();
}

} // namespace hyperamp::actors
