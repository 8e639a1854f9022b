// Backpressure on the service side, in one place: how much room each
// service's pool has, as the pools told the bridge. A pool grants its room
// when it starts (credit_atom) and gets one credit back for every job it
// reports done (done_atom); the bridge spends one for every job it hands
// over. Room may go below zero: a pool queues what its workers cannot take
// yet in its backlog. The bridge takes entries from the shared queue only
// while some pool has room, so when every service is saturated requests
// stay in the shared queue and the clients run out of entries; a stuck
// service never stops the others, whose pools still have room.
#pragma once

#include <algorithm>
#include <cstdint>
#include <utility>
#include <vector>

namespace hyperamp::actors {

class credit_ledger {
public:
  /// A pool announced `n` more credits (its room when it starts).
  void grant(std::uint32_t service, std::int64_t n) { room_of(service) += n; }
  /// A job went to the pool of `service`.
  void spend(std::uint32_t service) { --room_of(service); }
  /// The pool of `service` reported `n` jobs done.
  void refund(std::uint32_t service, std::int64_t n) { room_of(service) += n; }

  std::int64_t room(std::uint32_t service) const {
    for (const auto& [id, n] : rooms_)
      if (id == service)
        return n;
    return 0;
  }

  /// The room of all pools together (pools below zero count as zero).
  std::int64_t total_room() const {
    std::int64_t sum = 0;
    for (const auto& r : rooms_)
      sum += std::max<std::int64_t>(r.second, 0);
    return sum;
  }

private:
  std::int64_t& room_of(std::uint32_t service) {
    for (auto& [id, n] : rooms_)
      if (id == service)
        return n;
    return rooms_.emplace_back(service, 0).second;
  }

  /// A handful of services: a vector beats a map.
  std::vector<std::pair<std::uint32_t, std::int64_t>> rooms_;
};

} // namespace hyperamp::actors
