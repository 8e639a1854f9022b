// Stress and kill -9 for the partitioned layout, through its ports.
//
// Threads x processes: forked client processes, each running several
// threads, each thread a client port of its own (its own slot), pipelining
// requests against one service process. Every request carries a unique
// sequence number and its payload is derived from it; per-sequence
// counters in a MAP_SHARED mapping record submit, serve and collect, so the
// accounting proves that no request was lost, served twice or answered
// twice, and that every answer carried its own bytes. Both sides sleep on
// their doorbells with a long deadline while they wait: a timeout while the
// peer has work outstanding is a lost wake-up and fails the test.
//
// Size: scaled(60'000, 6'000) requests per run of 2 processes x 3 threads
// (about six port operations per request); HYPERAMP_TEST_SCALE=30 makes it
// 1.8 million requests, more than 10^7 operations.
//
// kill -9: a client process killed with requests in flight (its partition
// is reclaimed, its requests are not served to the next owner); a service
// process killed holding requests (its successor answers them `aborted`
// and serves the rest; every request is answered exactly once).
#include "partitioned_util.hpp"

#include <doctest/doctest.h>

#include <signal.h>

#include <atomic>
#include <chrono>
#include <cstring>
#include <thread>
#include <vector>

using namespace hyperamp::shm;
namespace t = hyperamp::shm::test;

namespace {

using clock_type = std::chrono::steady_clock;

constexpr std::uint32_t k_entries = 32;
constexpr std::uint32_t k_processes = 2;
constexpr std::uint32_t k_threads = 3;
constexpr std::uint32_t k_window = 24;
/// A wait this long while the peer has work outstanding is a lost wake-up.
constexpr auto k_stall = std::chrono::seconds(10);

struct shared_state {
  std::atomic<std::uint64_t> next_seq{1};
  std::atomic<std::uint32_t> stop{0};
  std::atomic<std::uint32_t> errors{0};
  std::atomic<std::uint32_t> stalls{0};
  std::atomic<std::uint32_t> clients_done{0};
  std::atomic<std::uint64_t> served_total{0};
  std::uint64_t per_client = 0;
  std::uint64_t seq_cap = 0;
};

struct accounting {
  t::shared_array<shared_state> st{1};
  t::shared_array<std::atomic<std::uint8_t>> submitted, served, collected;
  explicit accounting(std::uint64_t cap)
      : submitted(cap), served(cap), collected(cap) {
    st->seq_cap = cap;
  }
};

/// The payload of request `seq`: 8 to 64 bytes, each from the sequence.
std::uint32_t size_of(std::uint64_t seq) {
  return 8 + static_cast<std::uint32_t>(seq % 57);
}

std::uint8_t byte_of(std::uint64_t seq, std::uint32_t i) {
  return static_cast<std::uint8_t>(seq * 131 + i);
}

/// The service: echo with every byte + 1; counts each sequence served.
int run_service(const zone_options& o, accounting& acc) {
  auto r = open_service_port(o);
  if (!r)
    return 10;
  service_port& s = *r.port;
  s.abort_predecessor();
  std::vector<incoming> in(64);
  std::vector<outcome> out(64);
  for (;;) {
    s.beat();
    const auto got = s.take_submitted(in.data(), in.size());
    for (std::size_t i = 0; i < got.count; ++i) {
      std::uint64_t seq = 0;
      if (in[i].length >= 8)
        std::memcpy(&seq, in[i].data, 8);
      if (seq == 0 || seq >= acc.st->seq_cap ||
          acc.served[seq].fetch_add(1) != 0)
        acc.st->errors.fetch_add(1);
      for (std::uint32_t b = 8; b < in[i].length; ++b)
        ++in[i].data[b];
      out[i] = {in[i].ticket, wire_status::ok, in[i].length};
    }
    s.complete(out.data(), got.count);
    acc.st->served_total.fetch_add(got.count);
    // `full`: every service record was in use, more may be waiting, and no
    // bell will say so: the records are free again now, take more.
    if (got.st == status::ok || got.st == status::full)
      continue;
    s.reap(clock_type::now());
    if (acc.st->stop.load() != 0)
      break;
    const auto w = s.wait_bell().wait(clock_type::now() + k_stall);
    if (w == wait_result::timeout && acc.st->stop.load() == 0)
      acc.st->stalls.fetch_add(1);
  }
  s.leave();
  return s.incidents() == 0 ? 0 : 11;
}

/// One client thread: its own port, `per_client` requests, a window.
void run_client(const zone_options& o, accounting& acc) {
  auto r = open_client_port(o);
  if (!r) {
    acc.st->errors.fetch_add(1);
    return;
  }
  client_port& c = *r.port;
  std::vector<std::uint64_t> seq_of(c.tickets(), 0);
  std::vector<completion> done(k_window);
  std::uint64_t sent = 0, got = 0, in_flight = 0;
  const std::uint64_t n = acc.st->per_client;
  while (got < n) {
    c.beat(); // what the zone's waiter thread does every tick
    while (sent < n && in_flight < k_window) {
      const std::uint64_t seq = acc.st->next_seq.fetch_add(1);
      const std::uint32_t size = size_of(seq);
      lease l;
      if (seq >= acc.st->seq_cap || c.acquire(&size, 1, &l).count != 1) {
        acc.st->errors.fetch_add(1);
        return;
      }
      std::memcpy(l.data, &seq, 8);
      for (std::uint32_t b = 8; b < size; ++b)
        l.data[b] = byte_of(seq, b);
      request_desc d{l.ticket, seq, 66, size};
      seq_of[l.ticket] = seq;
      acc.submitted[seq].fetch_add(1);
      if (c.submit(&d, 1).count != 1)
        acc.st->errors.fetch_add(1);
      ++sent;
      ++in_flight;
    }
    const auto k = c.take_completed(done.data(), done.size());
    for (std::size_t i = 0; i < k.count; ++i) {
      const completion& x = done[i];
      bool ok = x.why == nullptr && x.result == wire_status::ok &&
                x.done_seq == seq_of[x.ticket] &&
                x.length == size_of(x.done_seq) &&
                acc.collected[x.done_seq].fetch_add(1) == 0;
      for (std::uint32_t b = 8; ok && b < x.length; ++b)
        ok = x.data[b] == static_cast<std::uint8_t>(byte_of(x.done_seq, b) + 1);
      if (!ok)
        acc.st->errors.fetch_add(1);
      c.release(&x.ticket, 1);
    }
    got += k.count;
    in_flight -= k.count;
    if (k.count == 0 &&
        c.wait_bell().wait(clock_type::now() + k_stall) == wait_result::timeout)
      acc.st->stalls.fetch_add(1);
  }
  if (c.incidents() != 0)
    acc.st->errors.fetch_add(1);
  c.leave();
}

int client_process(const zone_options& o, accounting& acc) {
  std::vector<std::thread> threads;
  for (std::uint32_t i = 0; i < k_threads; ++i)
    threads.emplace_back([&] { run_client(o, acc); });
  for (auto& th : threads)
    th.join();
  acc.st->clients_done.fetch_add(1);
  return 0;
}

/// Wakes the service so that it sees `stop`.
void stop_service(const zone_options& o, accounting& acc) {
  acc.st->stop.store(1);
  auto r = region::open(o.region);
  REQUIRE(r);
  futex_doorbell bell{r.value->slot_at(k_service_slot),
                      std::chrono::nanoseconds{0}};
  bell.ring();
}

/// Every ring of the region is empty and the service holds nothing.
void check_region_idle(const zone_options& o) {
  auto r = region::open(o.region);
  REQUIRE(r);
  region& reg = *r.value;
  for (std::uint32_t s = 1; s <= reg.max_clients(); ++s) {
    ring_control& rc = ring_of(reg, s);
    CHECK(rc.req_head.load() == rc.req_tail.load());
    CHECK(rc.resp_head.load() == rc.resp_tail.load());
    CHECK_FALSE(is_active(reg.slot_at(s)));
  }
  for (std::uint32_t i = 0; i < reg.entry_count(); ++i)
    CHECK(record_at(reg, i).state.load() == 0);
}

} // namespace

TEST_CASE("partitioned stress: threads x processes, no loss, no duplicate, "
          "no lost wake-up") {
  t::temp_path file("pstress");
  auto o = t::partitioned_options(file.path, k_entries, k_processes * k_threads,
                                  1u << 20);
  o.peer_dead = std::chrono::seconds(5);
  const std::uint64_t per_client =
      t::scaled(60'000, 6'000) / (k_processes * k_threads);
  const std::uint64_t total = per_client * k_processes * k_threads;
  accounting acc(total + 16);
  acc.st->per_client = per_client;
  {
    auto created = region::open(o.region); // the service and clients attach
    REQUIRE(created);
  }
  const pid_t svc = t::spawn([&] { return run_service(o, acc); });
  std::vector<pid_t> clients;
  for (std::uint32_t p = 0; p < k_processes; ++p)
    clients.push_back(t::spawn([&] { return client_process(o, acc); }));
  for (auto pid : clients)
    CHECK(t::wait_child(pid) == 0);
  stop_service(o, acc);
  CHECK(t::wait_child(svc) == 0);
  MESSAGE("requests: " << total);
  CHECK(acc.st->errors.load() == 0);
  CHECK(acc.st->stalls.load() == 0);
  CHECK(acc.st->served_total.load() == total);
  std::uint64_t bad = 0;
  for (std::uint64_t s = 1; s <= total; ++s)
    bad += acc.submitted[s].load() != 1 || acc.served[s].load() != 1 ||
           acc.collected[s].load() != 1;
  CHECK(bad == 0);
  check_region_idle(o);
}

namespace {

/// A client process that submits `n` requests and then waits to be killed.
int doomed_client(const zone_options& o, std::uint64_t first, int n,
                  t::event_pipe& ready) {
  auto r = open_client_port(o);
  if (!r)
    return 20;
  for (int i = 0; i < n; ++i) {
    const std::uint32_t size = 16;
    lease l;
    if (r.port->acquire(&size, 1, &l).count != 1)
      return 21;
    std::memset(l.data, 0x5A, size);
    request_desc d{l.ticket, first + static_cast<std::uint64_t>(i), 66, size};
    if (r.port->submit(&d, 1).count != 1)
      return 22;
  }
  ready.signal();
  for (;;)
    std::this_thread::sleep_for(std::chrono::seconds(1));
}

} // namespace

TEST_CASE("partitioned kill -9: a killed client's partition is reclaimed and "
          "its requests are never served to the next owner") {
  t::temp_path file("pkill");
  auto o = t::partitioned_options(file.path, 16, 1); // one slot: reused
  o.peer_dead = std::chrono::milliseconds(100);
  auto svc = t::open_service(o);
  svc->abort_predecessor();
  t::event_pipe ready;
  const pid_t pid = t::spawn([&] { return doomed_client(o, 1000, 10, ready); });
  REQUIRE(ready.wait() == '!');
  incoming in[4];
  REQUIRE(svc->take_submitted(in, 4).count == 4); // 4 held, 6 in the ring
  REQUIRE(::kill(pid, SIGKILL) == 0);
  CHECK(t::wait_child(pid) == 128 + SIGKILL);
  // Dead after peer_dead; evicted once the 4 held are answered.
  outcome out[4];
  for (std::size_t i = 0; i < 4; ++i)
    out[i] = {in[i].ticket, wire_status::ok, 16};
  svc->complete(out, 4);
  const auto until =
      clock_type::now() + t::time_scaled(std::chrono::seconds(10));
  std::size_t evicted = 0;
  while (evicted == 0 && clock_type::now() < until)
    evicted = svc->reap(clock_type::now());
  REQUIRE(evicted == 1);
  CHECK(svc->counters().evictions == 1);
  auto next = t::open_client(o);
  t::send(*next, "fresh", 1);
  CHECK(t::echo_all(*svc) == 1); // the dead client's 6 are dropped
  completion c[8];
  const auto got = next->take_completed(c, 8);
  REQUIRE(got.count == 1);
  CHECK(c[0].done_seq == 1);
  CHECK(next->incidents() == 0);
}

namespace {

/// A service process that takes `n` requests, says so and waits to die.
int doomed_service(const zone_options& o, std::size_t n, t::event_pipe& ready) {
  auto r = open_service_port(o);
  if (!r)
    return 30;
  r.port->abort_predecessor();
  std::vector<incoming> in(n);
  std::size_t got = 0;
  const auto until = clock_type::now() + std::chrono::seconds(10);
  while (got < n && clock_type::now() < until)
    got += r.port->take_submitted(in.data() + got, n - got).count;
  ready.signal(got == n ? '!' : '?');
  for (;;)
    std::this_thread::sleep_for(std::chrono::seconds(1));
}

} // namespace

TEST_CASE("partitioned kill -9: a restarted service answers what the killed "
          "one held `aborted` and serves the rest, each exactly once") {
  t::temp_path file("pkill");
  auto o = t::partitioned_options(file.path);
  o.peer_dead = std::chrono::milliseconds(100);
  {
    auto created = region::open(o.region);
    REQUIRE(created);
  }
  auto cli = t::open_client(o);
  for (std::uint64_t s = 1; s <= 12; ++s)
    t::send(*cli, "payload", s);
  t::event_pipe ready;
  const pid_t pid = t::spawn([&] { return doomed_service(o, 5, ready); });
  REQUIRE(ready.wait() == '!');
  REQUIRE(::kill(pid, SIGKILL) == 0);
  CHECK(t::wait_child(pid) == 128 + SIGKILL);
  auto next = t::open_service(o); // takes over once slot 0 is silent
  CHECK(next->abort_predecessor() == 5);
  CHECK(t::echo_all(*next) == 7);
  std::vector<int> answers(13, 0);
  std::size_t aborted = 0;
  completion c[16];
  const auto got = cli->take_completed(c, 16);
  for (std::size_t i = 0; i < got.count; ++i) {
    REQUIRE(c[i].done_seq <= 12);
    ++answers[c[i].done_seq];
    aborted += c[i].result == wire_status::aborted;
  }
  CHECK(got.count == 12);
  CHECK(aborted == 5);
  for (std::uint64_t s = 1; s <= 12; ++s)
    CHECK(answers[s] == 1);
}
