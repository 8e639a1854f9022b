// The hvisor-tool-v1 ports against a peer that the test plays by writing
// the queue directly (as hvisor-tool's C code would, or a broken peer):
// the hand-over, re-rings, the free list, and every kind of damage a peer
// can write. Each damaged request fails alone with its reason counted;
// the port goes on serving.
#include <doctest/doctest.h>

#include <cstring>
#include <string>
#include <thread>

#include "shm/v1_layout.hpp"
#include "shm/v1_ports.hpp"
#include "test_util.hpp"
#include "v1_env.hpp"

using namespace hyperamp::shm;
using hyperamp::shm::test::v1_env;
using namespace std::chrono_literals;

namespace {

/// The peer's view: the same windows, written directly.
struct raw {
  std::unique_ptr<v1::window_map> m;
  explicit raw(const zone_options& o) {
    auto r = v1::window_map::open(o.region);
    REQUIRE_MESSAGE(r, r.message);
    m = std::move(r.value);
  }
  v1::queue_header& h() { return m->header(); }
  v1::msg_entry& e(std::uint32_t i) { return m->entry(i); }

  /// What hvisor-tool's client does for one request: init, entry i (from
  /// the top, as its pops give), payload at `offset`, list, BUSY.
  void send(std::uint16_t i, std::uint16_t service, std::uint32_t offset,
            const std::string& data) {
    std::memcpy(m->buffer() + offset, data.c_str(), data.size() + 1);
    e(i).m = v1::msg{0, service, offset,
                     static_cast<std::uint32_t>(data.size() + 1)};
    e(i).nxt_idx = h().buf_size;
  }
  void hand_over(std::uint16_t head) {
    h().proc_ing_h = head;
    h().working_mark = v1::k_mark_busy;
  }
  std::string text(std::uint32_t i) {
    return std::string(
        reinterpret_cast<const char*>(m->buffer() + e(i).m.offset),
        e(i).m.length - 1);
  }
};

/// A service port over a queue a (raw) client initialised.
struct service_fixture {
  v1_env env;
  zone_options o = env.zone();
  raw peer{o};
  port_result<service_port> svc;
  incoming in[64];

  service_fixture() {
    v1::init_queue(*peer.m);
    svc = v1::open_service(o);
    REQUIRE_MESSAGE(svc, svc.error);
  }
  batch_result take(std::size_t n = 64) {
    return svc.port->take_submitted(in, n);
  }
  void answer_all(std::size_t n) {
    for (std::size_t i = 0; i < n; ++i) {
      outcome out{in[i].ticket, wire_status::ok, in[i].length};
      svc.port->complete(&out, 1);
    }
  }
  std::uint64_t rejected(const std::string& part) const {
    std::uint64_t n = 0;
    for (const auto& [why, count] : svc.port->counters().rejected)
      if (std::string{why}.find(part) != std::string::npos)
        n += count;
    return n;
  }
};

} // namespace

TEST_CASE("v1 service: readiness word while serving, cleared on leave") {
  service_fixture f;
  CHECK(f.peer.m->ready_word() == v1::k_ready);
  f.svc.port->leave();
  CHECK(f.peer.m->ready_word() == 0);
}

TEST_CASE("v1 service: the bell is rung once at start (a ring before "
          "listening is lost)") {
  service_fixture f;
  const auto soon = std::chrono::steady_clock::now() + 1ms;
  CHECK(f.svc.port->wait_bell().wait(soon) == wait_result::rung);
  CHECK(f.svc.port->wait_bell().wait(std::chrono::steady_clock::now() + 1ms) ==
        wait_result::timeout);
}

TEST_CASE("v1 service: takes a whole list, unlinks it, IDLE, then answers") {
  service_fixture f;
  f.peer.send(0, 66, 0, "a");
  f.peer.send(1, 1, 64, "hello");
  f.peer.send(2, 66, 128, "c");
  f.peer.e(0).nxt_idx = 1;
  f.peer.e(1).nxt_idx = 2;
  f.peer.hand_over(0);
  const auto r = f.take();
  REQUIRE(r.count == 3);
  CHECK(f.peer.h().proc_ing_h == 255);
  CHECK(f.peer.h().working_mark == v1::k_mark_idle);
  for (int i = 0; i < 3; ++i)
    CHECK(f.peer.e(static_cast<std::uint32_t>(i)).nxt_idx == 255);
  CHECK(f.in[1].length == 5);     // the NUL is not the service's
  CHECK(f.peer.e(1).m.flag == 0); // not answered before it ran
  f.answer_all(3);
  for (int i = 0; i < 3; ++i)
    CHECK(f.peer.e(static_cast<std::uint32_t>(i)).m.flag == 0x0003);
}

TEST_CASE("v1 service: a batch limit leaves the rest listed and BUSY") {
  service_fixture f;
  for (std::uint16_t i = 0; i < 40; ++i) {
    f.peer.send(i, 66, 64u * i, "x");
    f.peer.e(i).nxt_idx = static_cast<std::uint16_t>(i + 1 < 40 ? i + 1 : 255);
  }
  f.peer.hand_over(0);
  CHECK(f.take(16).count == 16);
  CHECK(f.peer.h().proc_ing_h == 16);
  CHECK(f.peer.h().working_mark == v1::k_mark_busy);
  CHECK(f.take(16).count == 16);
  CHECK(f.take(16).count == 8);
  CHECK(f.peer.h().proc_ing_h == 255);
  CHECK(f.peer.h().working_mark == v1::k_mark_idle);
}

TEST_CASE("v1 service: an index beyond buf_size fails that request only") {
  service_fixture f;
  f.peer.send(0, 66, 0, "ok");
  f.peer.send(1, 66, 64, "bad link");
  f.peer.e(0).nxt_idx = 1;
  f.peer.e(1).nxt_idx = 300;
  f.peer.hand_over(0);
  CHECK(f.take().count == 1);
  CHECK(f.in[0].ticket == 0);
  CHECK(f.peer.e(1).m.flag == 0x0005); // deal_state 1, FAIL
  CHECK(f.rejected("beyond buf_size") == 1);
  CHECK(f.peer.h().proc_ing_h == 255);
  // The zone keeps serving.
  f.answer_all(1);
  f.peer.send(2, 66, 128, "next");
  f.peer.hand_over(2);
  REQUIRE(f.take().count == 1);
  CHECK(f.in[0].ticket == 2);
}

TEST_CASE("v1 service: a cycle fails the entry that closes it") {
  service_fixture f;
  f.peer.send(0, 66, 0, "a");
  f.peer.send(1, 66, 64, "b");
  f.peer.send(2, 66, 128, "c");
  f.peer.e(0).nxt_idx = 1;
  f.peer.e(1).nxt_idx = 2;
  f.peer.e(2).nxt_idx = 0; // back to the head
  f.peer.hand_over(0);
  CHECK(f.take().count == 2);
  CHECK(f.peer.e(2).m.flag == 0x0005);
  CHECK(f.rejected("cycle") == 1);
  // A self-loop too.
  f.answer_all(2);
  f.peer.send(3, 66, 192, "d");
  f.peer.e(3).nxt_idx = 3;
  f.peer.hand_over(3);
  CHECK(f.take().count == 0);
  CHECK(f.peer.e(3).m.flag == 0x0005);
  CHECK(f.rejected("cycle") == 2);
}

TEST_CASE("v1 service: offsets and lengths outside the buffer fail") {
  service_fixture f;
  f.peer.send(0, 66, 0, "x");
  f.peer.e(0).m.offset = 0x10000; // == buffer size: nothing left
  f.peer.send(1, 66, 64, "y");
  f.peer.e(1).m.length = 0xFFFFFFF0u;
  f.peer.send(2, 66, 128, "z");
  f.peer.e(2).m.offset = 0xFFFFFFFFu;
  f.peer.send(3, 66, 192, "zero");
  f.peer.e(3).m.length = 0;
  f.peer.send(4, 66, 0xFFFE, "");
  f.peer.send(5, 66, 256, "fine");
  for (std::uint16_t i = 0; i < 5; ++i)
    f.peer.e(i).nxt_idx = static_cast<std::uint16_t>(i + 1);
  f.peer.hand_over(0);
  REQUIRE(f.take().count == 2); // the 1-byte message at 0xfffe, and "fine"
  CHECK(f.in[0].ticket == 4);
  CHECK(f.in[0].length == 0);
  CHECK(f.in[1].ticket == 5);
  for (std::uint32_t i = 0; i < 4; ++i)
    CHECK(f.peer.e(i).m.flag == 0x0005);
  CHECK(f.rejected("beyond the buffer window") == 3);
  CHECK(f.rejected("length 0") == 1);
}

TEST_CASE("v1 service: a head beyond buf_size is reset; a stale BUSY "
          "goes back to IDLE") {
  service_fixture f;
  f.peer.h().proc_ing_h = 0x7777;
  f.peer.h().working_mark = v1::k_mark_busy;
  CHECK(f.take().count == 0);
  CHECK(f.peer.h().proc_ing_h == 255);
  CHECK(f.peer.h().working_mark == v1::k_mark_idle);
  CHECK(f.rejected("proc_ing_h beyond") == 1);
  // BUSY written after we took the list: the tick puts IDLE back.
  f.peer.h().working_mark = v1::k_mark_busy;
  f.svc.port->reap(std::chrono::steady_clock::now());
  CHECK(f.peer.h().working_mark == v1::k_mark_idle);
}

TEST_CASE("v1 service: a buf_size the window cannot hold is not used") {
  service_fixture f;
  f.peer.h().buf_size = 4000;
  f.peer.h().proc_ing_h = 3000;
  CHECK(f.take().count == 0);
  CHECK(f.take().count == 0);
  CHECK(f.rejected("larger than the queue window") == 1); // counted once
  f.peer.h().buf_size = 0;                                // not initialised
  CHECK(f.take().count == 0);
}

TEST_CASE("v1 service: a client that re-initialises the queue meanwhile "
          "does not get a stale result") {
  service_fixture f;
  f.peer.send(0, 1, 0, "old");
  f.peer.hand_over(0);
  REQUIRE(f.take().count == 1);
  // A new client process starts: re-init, and entry 0 is a new request.
  v1::init_queue(*f.peer.m);
  f.peer.send(0, 66, 0, "newer");
  f.answer_all(1);
  CHECK(f.peer.e(0).m.flag == 0); // the old result was dropped
  CHECK(f.rejected("reused an entry") == 1);
  f.peer.hand_over(0);
  REQUIRE(f.take().count == 1);
  f.answer_all(1);
  CHECK(f.peer.e(0).m.flag == 0x0003);
  CHECK(f.peer.text(0) == "newer");
}

TEST_CASE("v1 service: an entry handed over again while it runs is taken "
          "anew once its first run is done") {
  service_fixture f;
  f.peer.send(0, 66, 0, "first");
  f.peer.hand_over(0);
  REQUIRE(f.take().count == 1);
  const std::uint32_t first = f.in[0].ticket;
  f.peer.send(0, 66, 0, "again");
  f.peer.hand_over(0);
  CHECK(f.take().count == 0); // not while the bridge holds ticket 0
  outcome out{first, wire_status::ok, 5};
  f.svc.port->complete(&out, 1);
  CHECK(f.peer.e(0).m.flag == 0);
  REQUIRE(f.take().count == 1);
  CHECK(f.in[0].ticket == 0);
  f.answer_all(1);
  CHECK(f.peer.e(0).m.flag == 0x0003);
}

TEST_CASE("v1 service: unknown services and failures in two bits") {
  service_fixture f;
  f.peer.send(0, 7, 0, "a");
  f.peer.send(1, 1, 64, "b");
  f.peer.e(0).nxt_idx = 1;
  f.peer.hand_over(0);
  REQUIRE(f.take().count == 2);
  outcome o[2] = {{0, wire_status::unknown_service, 0},
                  {1, wire_status::bad_request, 0}};
  f.svc.port->complete(o, 2);
  CHECK(f.peer.e(0).m.flag == 0x0007); // NOT_EXITS
  CHECK(f.peer.e(1).m.flag == 0x0005); // FAIL
}

TEST_CASE("v1 service: a shorter result rewrites length and the NUL") {
  service_fixture f;
  f.peer.send(0, 66, 0, "hello world");
  f.peer.hand_over(0);
  REQUIRE(f.take().count == 1);
  outcome o{0, wire_status::ok, 3};
  f.svc.port->complete(&o, 1);
  CHECK(f.peer.e(0).m.length == 4);
  CHECK(f.peer.m->buffer()[3] == 0);
  // A longer one than the request cannot be: FAIL.
  f.peer.send(1, 66, 64, "ab");
  f.peer.hand_over(1);
  REQUIRE(f.take().count == 1);
  outcome big{1, wire_status::ok, 9};
  f.svc.port->complete(&big, 1);
  CHECK(f.peer.e(1).m.flag == 0x0005);
}

// -- the client port ----------------------------------------------------------

namespace {

/// A client port with a peer that plays hvisor-tool's service by hand.
struct client_fixture {
  v1_env env;
  zone_options o;
  raw peer;
  port_result<client_port> cli;
  v1::client_port* port = nullptr;
  std::uint64_t seq = 100;

  explicit client_fixture(std::uint32_t rering_ms = 200)
      : o(env.zone(rering_ms)), peer(o) {
    peer.m->ready_word() = v1::k_ready;
    cli = v1::open_client(o);
    REQUIRE_MESSAGE(cli, cli.error);
    port = static_cast<v1::client_port*>(cli.port.get());
  }

  /// One request submitted; returns its ticket.
  std::uint32_t send(const std::string& data, std::uint32_t service = 66) {
    const auto size = static_cast<std::uint32_t>(data.size());
    lease l;
    REQUIRE(cli.port->acquire(&size, 1, &l).count == 1);
    std::memcpy(l.data, data.data(), data.size());
    request_desc d{l.ticket, ++seq, service, size};
    REQUIRE(cli.port->submit(&d, 1).count == 1);
    return l.ticket;
  }

  /// hvisor-tool's service for the head: transform nothing, deal_state,
  /// then the result, unlink, IDLE.
  std::uint16_t serve_head(std::uint16_t result = 1) {
    const std::uint16_t head = peer.h().proc_ing_h;
    REQUIRE(head < 255);
    peer.e(head).m.flag = 1;
    peer.e(head).m.flag = static_cast<std::uint16_t>(1 | (result << 1));
    peer.h().proc_ing_h = peer.e(head).nxt_idx;
    peer.e(head).nxt_idx = 255;
    peer.h().working_mark = v1::k_mark_idle;
    return head;
  }

  std::size_t take(completion* c, std::size_t n = 8) {
    return cli.port->take_completed(c, n).count;
  }
  std::uint64_t rejected(const std::string& part) const {
    std::uint64_t n = 0;
    for (const auto& [why, count] : cli.port->counters().rejected)
      if (std::string{why}.find(part) != std::string::npos)
        n += count;
    return n;
  }
};

} // namespace

TEST_CASE("v1 client: no service, no start (the readiness word)") {
  v1_env env;
  auto o = env.zone();
  o.wait_for_service = 20ms;
  auto cli = v1::open_client(o);
  REQUIRE_FALSE(cli);
  CHECK(cli.error.find("readiness word at 0x10011000") != std::string::npos);
  CHECK(cli.error.find("0x00000000") != std::string::npos);
}

TEST_CASE("v1 client: one entry at a time, in order, each rung") {
  client_fixture f;
  const auto a = f.send("one");
  const auto b = f.send("two");
  CHECK(f.peer.h().proc_ing_h == a);
  CHECK(f.peer.h().working_mark == v1::k_mark_busy);
  CHECK(f.port->bell_out().stats().rings == 1);
  completion c[8];
  CHECK(f.take(c) == 0);
  CHECK(f.serve_head() == a);
  // The next goes over once the first is taken and IDLE.
  REQUIRE(f.take(c) == 1);
  CHECK(c[0].ticket == a);
  CHECK(c[0].done_seq == 101);
  CHECK(c[0].result == wire_status::ok);
  CHECK(f.peer.h().proc_ing_h == b);
  CHECK(f.port->bell_out().stats().rings == 2);
  f.cli.port->release(&c[0].ticket, 1);
  CHECK(f.serve_head() == b);
  REQUIRE(f.take(c) == 1);
  CHECK(c[0].done_seq == 102);
  CHECK(std::string(reinterpret_cast<const char*>(c[0].data), c[0].length) ==
        "two");
  f.cli.port->release(&c[0].ticket, 1);
  CHECK(f.peer.h().empty_h == b); // LIFO, as hvisor-tool pushes
}

TEST_CASE("v1 client: an entry goes back to the free list only after IDLE") {
  client_fixture f;
  const auto a = f.send("x");
  // The service marks it done but has not unlinked it or written IDLE.
  f.peer.e(a).m.flag = 0x0003;
  completion c[8];
  REQUIRE(f.take(c) == 1);
  f.cli.port->release(&c[0].ticket, 1);
  CHECK(f.peer.h().empty_h != a);
  CHECK(f.peer.e(a).m.flag == 0x0003);
  // Now it unlinks and writes IDLE: the next port call settles it.
  f.peer.h().proc_ing_h = 255;
  f.peer.e(a).nxt_idx = 255;
  f.peer.h().working_mark = v1::k_mark_idle;
  CHECK(f.take(c) == 0);
  CHECK(f.peer.h().empty_h == a);
  CHECK(f.peer.e(a).m.flag == 0);
}

TEST_CASE("v1 client: rings again when the service does not take the "
          "entry (a lost ring)") {
  client_fixture f{1}; // re-ring after 1 ms
  f.send("late");
  completion c[8];
  const auto deadline = std::chrono::steady_clock::now() + 10s;
  while (f.port->rerings() == 0 && std::chrono::steady_clock::now() < deadline)
    f.take(c);
  CHECK(f.port->rerings() >= 1);
  CHECK(f.port->bell_out().stats().rings >= 2);
  f.serve_head();
  CHECK(f.take(c) == 1);
}

TEST_CASE("v1 client: the probe wakes the waiter on a completion") {
  client_fixture f;
  f.send("x");
  auto& bell = f.cli.port->wait_bell();
  CHECK(bell.wait(std::chrono::steady_clock::now() + 1ms) ==
        wait_result::timeout);
  f.serve_head();
  CHECK(bell.wait(std::chrono::steady_clock::now() + 1s) == wait_result::rung);
}

TEST_CASE("v1 client: a result length or offset out of range fails that "
          "request, the next one succeeds") {
  client_fixture f;
  completion c[8];
  const auto a = f.send("abc");
  f.peer.e(a).m.length = 0xFFFFFFFFu;
  f.serve_head();
  REQUIRE(f.take(c) == 1);
  CHECK(c[0].why != nullptr);
  CHECK(f.rejected("result length out of range") == 1);
  f.cli.port->release(&c[0].ticket, 1);

  const auto b = f.send("def");
  f.peer.e(b).m.offset = 0xFFFFFF00u;
  f.serve_head();
  REQUIRE(f.take(c) == 1);
  CHECK(c[0].why != nullptr);
  CHECK(f.rejected("payload offset") == 1);
  f.cli.port->release(&c[0].ticket, 1);

  f.send("ghi");
  f.serve_head();
  REQUIRE(f.take(c) == 1);
  CHECK(c[0].why == nullptr);
  CHECK(c[0].length == 3);
}

TEST_CASE("v1 client: an index beyond buf_size at proc_ing_h is repaired") {
  client_fixture f;
  completion c[8];
  f.send("x");
  f.serve_head();
  f.peer.h().proc_ing_h = 0x7777;
  REQUIRE(f.take(c) == 1);
  CHECK(f.rejected("proc_ing_h beyond") == 1);
  f.cli.port->release(&c[0].ticket, 1);
  f.send("y");
  CHECK(f.peer.h().proc_ing_h < 255);
  f.serve_head();
  CHECK(f.take(c) == 1);
}

TEST_CASE("v1 client: a cycle in the free list is rebuilt") {
  client_fixture f;
  const auto h = f.peer.h().empty_h;
  f.peer.e(h).nxt_idx = h; // the service writes a self-loop
  completion c[8];
  for (int i = 0; i < 3; ++i) {
    f.send("x");
    f.serve_head();
    REQUIRE(f.take(c) == 1);
    CHECK(c[0].why == nullptr);
    f.cli.port->release(&c[0].ticket, 1);
  }
  CHECK(f.rejected("free list") == 1);
  // Every entry but the three used is still free: 255 - 0 in use.
  for (int i = 0; i < 254; ++i) {
    const std::uint32_t size = 1;
    lease l;
    REQUIRE(f.cli.port->acquire(&size, 1, &l).count == 1);
  }
}

TEST_CASE("v1 client: a finished entry left at the head is taken off, not "
          "handed over again") {
  client_fixture f;
  completion c[8];
  const auto a = f.send("x");
  f.peer.e(a).m.flag = 0x0003;
  f.peer.e(a).nxt_idx = static_cast<std::uint16_t>(a); // a cycle
  f.peer.h().working_mark = v1::k_mark_idle;           // head stays a
  REQUIRE(f.take(c) == 1);
  CHECK(c[0].why == nullptr);
  CHECK(f.peer.h().proc_ing_h == 255);
  CHECK(f.peer.h().working_mark == v1::k_mark_idle); // no new hand-over
  CHECK(f.port->bell_out().stats().rings == 1);
  CHECK(f.rejected("left a finished request") == 1);
  f.cli.port->release(&c[0].ticket, 1);
  f.send("y");
  f.serve_head();
  REQUIRE(f.take(c) == 1);
  CHECK(c[0].why == nullptr);
}

TEST_CASE("v1 client: deal_state without a result fails after a grace") {
  client_fixture f;
  completion c[8];
  const auto a = f.send("x");
  f.peer.e(a).m.flag = 0x0001;
  CHECK(f.take(c) == 0); // maybe the result is on its way
  const auto deadline = std::chrono::steady_clock::now() + 10s;
  std::size_t n = 0;
  while (n == 0 && std::chrono::steady_clock::now() < deadline)
    n = f.take(c);
  REQUIRE(n == 1);
  CHECK(c[0].why != nullptr);
}

TEST_CASE("v1 client: a BUSY mark over an empty list is taken as IDLE after "
          "the re-ring interval") {
  client_fixture f{1};
  const auto a = f.send("x");
  f.serve_head();
  f.peer.h().working_mark = v1::k_mark_busy; // never goes back to IDLE
  completion c[8];
  REQUIRE(f.take(c) == 1);
  f.cli.port->release(&c[0].ticket, 1);
  f.send("y");
  const auto deadline = std::chrono::steady_clock::now() + 10s;
  while (f.peer.h().proc_ing_h == 255 &&
         std::chrono::steady_clock::now() < deadline)
    f.take(c);
  CHECK(f.peer.h().proc_ing_h != 255);
  CHECK(f.rejected("stayed BUSY") >= 1);
  (void)a;
}

TEST_CASE("v1 client: a service id beyond 16 bits fails alone") {
  client_fixture f;
  completion c[8];
  const std::uint32_t size = 1;
  lease l;
  REQUIRE(f.cli.port->acquire(&size, 1, &l).count == 1);
  request_desc d{l.ticket, 7, 70000, 1};
  f.cli.port->submit(&d, 1);
  REQUIRE(f.take(c) == 1);
  CHECK(c[0].result == wire_status::bad_request);
  CHECK(c[0].done_seq == 7);
  CHECK(f.peer.h().proc_ing_h == 255); // never handed over
}

TEST_CASE("v1: client and service ports together, many requests") {
  v1_env env;
  const auto o = env.zone();
  auto svc = v1::open_service(o);
  REQUIRE(svc);
  auto cli = v1::open_client(o);
  REQUIRE(cli);
  const std::size_t total = test::scaled(2000, 300);
  std::size_t sent = 0, done = 0;
  std::uint64_t next = 1;
  incoming in[32];
  completion c[32];
  while (done < total) {
    while (sent < total && sent - done < 20) {
      const std::uint32_t size = 8;
      lease l;
      if (cli.port->acquire(&size, 1, &l).count == 0)
        break;
      std::memcpy(l.data, &next, 8);
      request_desc d{l.ticket, next++, 66, 8};
      cli.port->submit(&d, 1);
      ++sent;
    }
    const auto t = svc.port->take_submitted(in, 32);
    for (std::size_t i = 0; i < t.count; ++i) {
      outcome out{in[i].ticket, wire_status::ok, in[i].length};
      svc.port->complete(&out, 1);
    }
    const auto r = cli.port->take_completed(c, 32);
    for (std::size_t i = 0; i < r.count; ++i) {
      REQUIRE(c[i].why == nullptr);
      std::uint64_t echoed = 0;
      std::memcpy(&echoed, c[i].data, 8);
      CHECK(echoed == c[i].done_seq);
      cli.port->release(&c[i].ticket, 1);
      ++done;
    }
  }
  CHECK(cli.port->incidents() == 0);
  CHECK(svc.port->incidents() == 0);
}

TEST_CASE("v1 client: a request still waiting to be handed over can be "
          "given up; a handed-over one cannot") {
  client_fixture f;
  const auto a = f.send("first");  // handed over
  const auto b = f.send("second"); // waits for the first
  const auto c2 = f.send("third"); // waits too
  CHECK(f.peer.h().proc_ing_h == a);
  // The service may still write a's result: never given up.
  CHECK_FALSE(f.cli.port->lost(a));
  // b never reached the service: withdrawn, its entry free again.
  CHECK(f.cli.port->lost(b));
  CHECK(f.peer.h().empty_h == b);
  CHECK_FALSE(f.cli.port->lost(b)); // once only
  CHECK_FALSE(f.cli.port->lost(9999));
  CHECK(f.cli.port->sweep() == 0);
  // The next to go over is c2, not b.
  completion c[8];
  f.serve_head();
  REQUIRE(f.take(c) == 1);
  CHECK(c[0].ticket == a);
  f.cli.port->release(&c[0].ticket, 1);
  CHECK(f.peer.h().proc_ing_h == c2);
  f.serve_head();
  REQUIRE(f.take(c) == 1);
  CHECK(c[0].ticket == c2);
  CHECK(c[0].done_seq == 103);
  f.cli.port->release(&c[0].ticket, 1);
  CHECK(f.cli.port->check_self() == self_check::ours);
}

TEST_CASE("v1 service: an overwritten readiness word is written again") {
  service_fixture f;
  CHECK(f.svc.port->check_self() == self_check::ours);
  f.peer.m->ready_word() = 0;
  CHECK(f.svc.port->check_self() == self_check::repaired);
  CHECK(f.peer.m->ready_word() == v1::k_ready);
  CHECK(f.rejected("readiness word was overwritten") == 1);
  CHECK(f.svc.port->check_self() == self_check::ours);
}
