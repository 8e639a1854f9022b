// The error vocabulary of shm/: every try_ operation returns one of these.
#pragma once

#include <cstddef>
#include <cstdint>

namespace hyperamp::shm {

enum class status : std::uint8_t {
  ok = 0,
  empty,     ///< nothing to take
  full,      ///< no free entry / no payload space: a status, not a failure
  corrupt,   ///< something the peer wrote failed validation
  timeout,   ///< a deadline passed
  recovered, ///< the lock was taken from a dead holder and the lists repaired
  busy,      ///< try_lock found the lock held
  no_slot,   ///< every participant slot is taken by a live participant
  peer_alive ///< a slot is held by a participant that is still alive
};

/// Result of a batch operation: how many items it handled, and why it
/// stopped (ok: all; empty/full: ran out; corrupt: validation failed).
struct batch_result {
  std::size_t count = 0;
  status st = status::ok;
};

constexpr const char* to_string(status s) noexcept {
  switch (s) {
  case status::ok:
    return "ok";
  case status::empty:
    return "empty";
  case status::full:
    return "full";
  case status::corrupt:
    return "corrupt";
  case status::timeout:
    return "timeout";
  case status::recovered:
    return "recovered";
  case status::busy:
    return "busy";
  case status::no_slot:
    return "no_slot";
  case status::peer_alive:
    return "peer_alive";
  }
  return "unknown";
}

} // namespace hyperamp::shm
