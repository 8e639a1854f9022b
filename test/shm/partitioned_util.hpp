// Helpers of the partitioned layout's suites: zone options for a region of
// that layout, opening the ports, and one request's round trip.
#pragma once

#include "shm/partitioned_ports.hpp"
#include "shm/ports.hpp"
#include "test_util.hpp"

#include <doctest/doctest.h>

#include <cstring>
#include <memory>
#include <string>
#include <vector>

namespace hyperamp::shm::test {

inline zone_options partitioned_options(const std::string& path,
                                        std::uint32_t entries = 16,
                                        std::uint32_t clients = 4,
                                        std::uint64_t payload = 4 * 4096) {
  zone_options o;
  o.region = small_options(path, entries, clients, payload);
  o.region.create = create_mode::auto_;
  o.region.layout = wire_layout::partitioned;
  o.bell.kind = bell_kind::futex;
  o.bell.spin = std::chrono::nanoseconds{0};
  o.peer_dead = std::chrono::milliseconds(200);
  return o;
}

inline std::unique_ptr<service_port> open_service(const zone_options& o) {
  auto r = open_service_port(o);
  INFO(r.error);
  REQUIRE(r);
  return std::move(r.port);
}

inline std::unique_ptr<client_port> open_client(const zone_options& o) {
  auto r = open_client_port(o);
  INFO(r.error);
  REQUIRE(r);
  return std::move(r.port);
}

/// Acquires room for `text`, writes it and submits it as `seq`; the ticket.
inline std::uint32_t send(client_port& c, const std::string& text,
                          std::uint64_t seq, std::uint32_t service = 66) {
  const auto size = static_cast<std::uint32_t>(text.size());
  lease l;
  REQUIRE(c.acquire(&size, 1, &l).count == 1);
  std::memcpy(l.data, text.data(), text.size());
  request_desc d{l.ticket, seq, service, size};
  REQUIRE(c.submit(&d, 1).count == 1);
  return l.ticket;
}

/// Every answer the client can take now.
inline std::vector<completion> take_all(client_port& c) {
  std::vector<completion> all;
  completion buf[8];
  for (;;) {
    const auto r = c.take_completed(buf, 8);
    all.insert(all.end(), buf, buf + r.count);
    if (r.st != status::ok)
      return all;
  }
}

inline void release_all(client_port& c, const std::vector<completion>& done) {
  for (const auto& x : done)
    c.release(&x.ticket, 1);
}

/// Takes everything submitted and answers it ok, unchanged (echo).
inline std::size_t echo_all(service_port& s) {
  incoming in[64];
  outcome out[64];
  std::size_t total = 0;
  for (;;) {
    const auto r = s.take_submitted(in, 64);
    for (std::size_t i = 0; i < r.count; ++i)
      out[i] = {in[i].ticket, wire_status::ok, in[i].length};
    s.complete(out, r.count);
    total += r.count;
    if (r.st != status::ok)
      return total;
  }
}

} // namespace hyperamp::shm::test
