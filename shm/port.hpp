// Queue ports: what a bridge may do with the shared queue, as a role view
// over a wire layout. A client zone holds a client_port (acquire, submit,
// take completed, release), a service zone a service_port (take submitted,
// complete, abort, reap); neither can do the other's operations. The
// bridges in actors/ see only these interfaces, so a wire layout is a pair
// of classes implementing them (shm/locked_ports.hpp is hyperamp's own
// layout) plus a line in open_client_port / open_service_port
// (shm/ports.hpp).
//
// Contracts common to every port:
// - One thread uses a port at a time (the bridge's), except wait_bell() and
//   beat(), which the zone's interrupt waiter thread calls concurrently.
// - No call blocks (beyond a short lock hold), throws or allocates on the
//   request path. Everything the peer wrote is validated before use.
// - A ticket names one request from acquire (client) or take (service)
//   until release (client) or complete (service); tickets are < tickets().
// - `corrupt` from a batch call means the port found the shared structures
//   damaged, repaired them, and the caller should simply call again; what
//   the call did before that (`count`) stands.
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <utility>
#include <vector>

#include "shm/layout.hpp"
#include "shm/participant.hpp"
#include "shm/status.hpp"

namespace hyperamp::shm {

class doorbell;

/// What a port found and did, cumulative since it was opened.
struct port_counters {
  std::uint64_t batches = 0;   ///< lock acquisitions to move requests
  std::uint64_t rings = 0;     ///< doorbell rings made
  std::uint64_t corrupt = 0;   ///< damaged lists or entries found
  std::uint64_t repairs = 0;   ///< lists rebuilt from the entry tags
  std::uint64_t evictions = 0; ///< dead lock holders or dead peers evicted
  /// Requests or completions that failed validation, by reason (static
  /// strings, compared by address; one row per reason seen).
  std::vector<std::pair<const char*, std::uint64_t>> rejected;
  std::uint64_t rejected_total = 0;

  /// Everything found wrong so far: changes whenever something new is.
  std::uint64_t incidents() const noexcept { return corrupt + rejected_total; }

  void reject(const char* why) {
    ++rejected_total;
    for (auto& r : rejected)
      if (r.first == why) {
        ++r.second;
        return;
      }
    rejected.emplace_back(why, 1);
  }
};

/// What both roles have.
class port {
public:
  using clock = std::chrono::steady_clock;

  port() = default;
  port(const port&) = delete;
  port& operator=(const port&) = delete;
  virtual ~port();

  /// The bell this zone waits on (the interrupt waiter thread's).
  virtual doorbell& wait_bell() noexcept = 0;
  /// A sign of life; thread-safe (the waiter thread beats every tick).
  virtual void beat() noexcept = 0;
  /// A copy of the counters (not for the request path).
  virtual port_counters counters() const = 0;
  /// counters().incidents(), cheaply.
  virtual std::uint64_t incidents() const noexcept = 0;
  /// Orderly exit: hands back whatever the zone holds that the peer does
  /// not need, and frees its place in the region. Idempotent.
  virtual void leave() noexcept = 0;
  /// Tickets are in [0, tickets()).
  virtual std::uint32_t tickets() const noexcept = 0;
  /// Checks this zone's own place in the region (its slot); a damaged one
  /// is repaired, a lost one (another zone was given it) ends the zone.
  virtual self_check check_self() noexcept = 0;
};

/// A request's room in the region, from acquire() until release().
struct lease {
  std::uint32_t ticket = 0;
  std::uint8_t* data = nullptr; ///< write the request here (length bytes)
  std::uint32_t capacity = 0;   ///< bytes the response may use
};

/// A request to publish: its lease's ticket, the payload already written.
struct request_desc {
  std::uint32_t ticket = 0;
  std::uint64_t seq = 0; ///< never 0; the completion echoes it
  std::uint32_t service_id = 0;
  std::uint32_t length = 0;
};

/// A validated completion.
struct completion {
  std::uint32_t ticket = 0;
  std::uint64_t done_seq = 0;
  wire_status result = wire_status::pending;
  const std::uint8_t* data = nullptr; ///< the response, until release()
  std::uint32_t length = 0;
  /// Not null: the completion failed validation (why), nothing else is set.
  const char* why = nullptr;
};

class client_port : public port {
public:
  /// The largest payload one request can carry.
  virtual std::uint32_t max_payload() const noexcept = 0;

  /// Reserves room for requests of sizes[0..n) in order, stopping at the
  /// first that does not fit (full). Fills out[0..count).
  virtual batch_result acquire(const std::uint32_t* sizes, std::size_t n,
                               lease* out) noexcept = 0;

  /// Publishes requests (each ticket from acquire, its payload written) in
  /// order and rings the service once. The ones not published (count..n,
  /// st says why) are still the caller's to release().
  virtual batch_result submit(const request_desc* r,
                              std::size_t n) noexcept = 0;

  /// Takes up to n completions. Their data stays valid until release().
  virtual batch_result take_completed(completion* out,
                                      std::size_t n) noexcept = 0;

  /// Gives back the room of finished (or unsubmitted) requests.
  virtual void release(const std::uint32_t* tickets,
                       std::size_t n) noexcept = 0;

  /// Is a live service attached? Judged on this side's clock.
  virtual bool peer_up(clock::time_point now) noexcept = 0;

  /// Whether take_completed() would now wait for a lock another zone
  /// holds. A peer that died holding it is evicted only after peer_dead of
  /// silence; the client bridge does not wait for that before failing its
  /// requests with peer_down. A peek: the answer may be stale at once.
  virtual bool lock_held() const noexcept { return false; }

  /// For a submitted request past its deadline: true if the region no
  /// longer has it in the queue (damage and repair took its entry out), so
  /// no completion will ever come; its room is then given back here and the
  /// ticket must not be released again.
  virtual bool lost(std::uint32_t ticket) noexcept = 0;

  /// Gives back what the region says is this client's but the client never
  /// took (left by damage and repair). Call on every tick; returns how many.
  virtual std::size_t sweep() noexcept = 0;
};

/// A validated request, as the service sees it.
struct incoming {
  std::uint32_t ticket = 0;
  std::uint32_t service_id = 0;
  std::uint8_t* data = nullptr; ///< request bytes; the response goes here
  std::uint32_t length = 0;
  std::uint32_t capacity = 0; ///< bytes the response may use
};

/// What became of a request taken with take_submitted.
struct outcome {
  std::uint32_t ticket = 0;
  wire_status status = wire_status::ok;
  std::uint32_t length = 0; ///< response bytes at the request's data
};

class service_port : public port {
public:
  /// Takes up to n requests, oldest first. Requests that fail validation
  /// never come out: the port answers them with bad_request itself (or
  /// drops them if nobody can be answered) and counts the reason. Status
  /// `empty`: nothing more is waiting (sleep until the bell); `full`: the
  /// port holds as many requests as it can, and more may be waiting: take
  /// again once some are completed (no bell says so).
  virtual batch_result take_submitted(incoming* out,
                                      std::size_t n) noexcept = 0;

  /// Publishes outcomes of taken requests (payload already written) and
  /// rings each client concerned once.
  virtual batch_result complete(const outcome* o, std::size_t n) noexcept = 0;

  /// Completes as aborted whatever a predecessor service left in service.
  /// Returns how many.
  virtual std::size_t abort_predecessor() noexcept = 0;

  /// Returns the entries of clients found dead (and evicts them), and of
  /// clients that left with completions outstanding. Returns how many.
  virtual std::size_t reap(clock::time_point now) noexcept = 0;
};

} // namespace hyperamp::shm
