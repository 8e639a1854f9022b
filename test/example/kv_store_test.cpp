// Compiles docs/examples/kv_store.cpp and runs it: its workers and store on
// CAF's test coordinator (single-threaded, nothing sleeps; jobs on local
// buffers in place of the shared region), then through a service zone and
// two client zones in one process.
#include <doctest/doctest.h>

#include <caf/all.hpp>
#include <caf/scheduler/test_coordinator.hpp>

#include <unistd.h>

#include <algorithm>
#include <cstdint>
#include <deque>
#include <string>
#include <vector>

#include "actors/zone.hpp"
#include "services/registry.hpp"

namespace hyperamp::services {
service_entry kv_store_entry();
}

using namespace hyperamp;

namespace {

using shm::wire_status;
using vocab::job;
using vocab::job_result;
using vocab::service_actor;

constexpr std::uint32_t k_kv_id = 4;

std::string put(const std::string& key, const std::string& value) {
  return "P" + key + std::string(1, '\0') + value;
}

/// A get whose request is padded after a \0 to `length` bytes (so that
/// capacity >= length gives the answer that much room).
std::string padded_get(const std::string& key, std::size_t length) {
  auto s = "G" + key + std::string(1, '\0');
  s.resize(std::max(length, s.size()), '.');
  return s;
}

// -- on the test coordinator ----------------------------------------------

/// Bytes after a job's capacity in its buffer: the service must not write
/// them.
constexpr std::size_t k_guard = 16;
constexpr std::uint8_t k_guard_byte = 0xEE;

/// One job on a local buffer (standing in for the shared region) and what
/// came back for it.
struct exchange {
  std::vector<std::uint8_t> buffer; ///< capacity bytes, then the guard
  job j;
  caf::actor_addr requester;
  int answers = 0;
  job_result result;
  std::string response; ///< result.length bytes, read as the answer came

  std::string bytes(std::size_t n) const {
    return {buffer.begin(), buffer.begin() + static_cast<std::ptrdiff_t>(n)};
  }
  bool guard_intact() const {
    return std::all_of(buffer.begin() + j.capacity, buffer.end(),
                       [](std::uint8_t b) { return b == k_guard_byte; });
  }
};

struct kv_fixture {
  static caf::actor_system_config& init(caf::actor_system_config& cfg) {
    cfg.set("scheduler.policy", caf::atom("testing"));
    cfg.set("logger.inline-output", true);
    return cfg;
  }

  caf::actor_system_config cfg;
  caf::actor_system sys{init(cfg)};
  caf::scheduler::test_coordinator& sched =
      dynamic_cast<caf::scheduler::test_coordinator&>(sys.scheduler());
  const std::size_t baseline = sys.registry().running();
  /// The row as a table holds it: the pool spawns workers through it.
  vocab::service_entry row = services::kv_store_entry();
  std::vector<service_actor> workers; ///< as a pool would keep them
  std::deque<exchange> exchanges;     ///< stable addresses

  ~kv_fixture() {
    for (auto& w : workers)
      caf::anon_send_exit(w, caf::exit_reason::user_shutdown);
    sched.run();
    CHECK_MESSAGE(sys.registry().running() == baseline,
                  "actors still running after the workers stopped");
    if (sys.registry().running() != baseline)
      sys.await_actors_before_shutdown(false); // never hang the suite
  }

  /// Actors running besides the system's own.
  std::size_t running() { return sys.registry().running() - baseline; }

  service_actor spawn_worker() {
    workers.push_back(row.spawn(sys));
    sched.run();
    return workers.back();
  }

  /// Spawns a requester that sends `payload` as a job to `worker` and
  /// records the answer; runs nothing.
  exchange& send(const service_actor& worker, const std::string& payload,
                 std::uint32_t capacity = 64) {
    REQUIRE(capacity >= payload.size()); // as the bridge guarantees
    auto& x = exchanges.emplace_back();
    x.buffer.assign(capacity + k_guard, k_guard_byte);
    std::fill_n(x.buffer.begin(), capacity, std::uint8_t{0});
    std::copy(payload.begin(), payload.end(), x.buffer.begin());
    x.j.service_id = k_kv_id;
    x.j.data = x.buffer.data();
    x.j.length = static_cast<std::uint32_t>(payload.size());
    x.j.capacity = capacity;
    // (Arguments, not captures: CAF 0.17 dereferences a null pointer when it
    // spawns a function without arguments; UBSan reports it.)
    auto r = sys.spawn(
        [](caf::event_based_actor* self, service_actor w, exchange* xp) {
          self->request(w, caf::infinite, xp->j).then([xp](job_result res) {
            ++xp->answers;
            xp->result = res;
            xp->response =
                xp->bytes(std::min<std::size_t>(res.length, xp->buffer.size()));
          });
        },
        worker, &x);
    x.requester = r.address();
    return x;
  }

  /// send(), then runs everything.
  exchange& ask(const service_actor& worker, const std::string& payload,
                std::uint32_t capacity = 64) {
    auto& x = send(worker, payload, capacity);
    sched.run();
    return x;
  }

  /// Runs exactly one message (or the start-up) of `hdl`.
  template <class Handle>
  void step(const Handle& hdl) {
    REQUIRE(sched.prioritize(hdl));
    sched.run_once();
  }
};

void check_ok(const exchange& x, const std::string& expected) {
  INFO("request " << x.bytes(x.j.length));
  CHECK(x.answers == 1);
  CHECK(x.result.status == wire_status::ok);
  CHECK(x.response == expected);
  CHECK(x.guard_intact());
}

void check_bad_request(const exchange& x) {
  INFO("request " << x.bytes(x.j.length));
  CHECK(x.answers == 1);
  CHECK(x.result.status == wire_status::bad_request);
  CHECK(x.result.length == 0);
  CHECK(x.guard_intact());
}

} // namespace

TEST_SUITE_BEGIN("example kv_store");

TEST_CASE_FIXTURE(kv_fixture,
                  "example: kv_store: two workers share one store") {
  auto a = spawn_worker();
  auto b = spawn_worker();
  CHECK(running() == 3); // the two workers and the store they share
  check_ok(ask(a, put("color", "blue")), "O");
  check_ok(ask(b, "Gcolor"), "Vblue");
  // overwrite, from the other worker
  check_ok(ask(b, put("color", "green")), "O");
  check_ok(ask(a, "Gcolor"), "Vgreen");
  // a missing key
  check_ok(ask(a, "Gshape"), "N");
  check_ok(ask(b, "Dshape"), "N");
  // values are bytes: a \0 inside, an empty one
  check_ok(ask(b, put("bin", std::string("x\0y", 3))), "O");
  check_ok(ask(a, "Gbin"), std::string("Vx\0y", 4));
  check_ok(ask(a, put("empty", "")), "O");
  check_ok(ask(b, "Gempty"), "V");
  // get and delete ignore what follows a \0 after the key
  check_ok(ask(b, padded_get("color", 40)), "Vgreen");
  check_ok(ask(a, "Dcolor"), "O");
  check_ok(ask(b, "Gcolor"), "N");
  check_ok(ask(a, std::string("Dbin\0zz", 7)), "O");
  check_ok(ask(a, "Gbin"), "N");
  CHECK(running() == 3); // the requesters are gone, nothing else started
}

TEST_CASE_FIXTURE(
    kv_fixture,
    "example: kv_store: a malformed payload is bad_request and changes "
    "nothing") {
  auto a = spawn_worker();
  const std::string malformed[] = {
      "",                        // empty
      "G",                       // no key
      "P",                       //
      "D",                       //
      std::string("G\0k", 3),    // empty key
      std::string("P\0v", 3),    //
      "Pkey",                    // a put without \0
      "Xkey",                    // unknown operation
      std::string("xkey\0v", 6), // operations are upper case
  };
  for (const auto& p : malformed) {
    auto& x = ask(a, p);
    check_bad_request(x);
    CHECK(x.bytes(p.size()) == p); // the request is left as it was
  }
  check_ok(ask(a, "Gkey"), "N");
  check_ok(ask(a, "Gk"), "N");
  check_ok(ask(a, put("key", "v")), "O");
  check_ok(ask(a, "Gkey"), "Vv");
}

TEST_CASE_FIXTURE(
    kv_fixture,
    "example: kv_store: a value larger than the capacity is T and its "
    "length") {
  auto a = spawn_worker();
  auto b = spawn_worker();
  const std::string big(100, 'z');
  check_ok(ask(a, put("big", big), 128), "O");
  // capacity 64: the answer says how long the value is, nothing is cut
  check_ok(ask(b, "Gbig", 64), "T100");
  // a get padded to 1 + 100 bytes has room for it, one byte less has not
  check_ok(ask(b, padded_get("big", 101), 101), "V" + big);
  check_ok(ask(a, padded_get("big", 100), 100), "T100");
  // not even the length fits: T alone
  check_ok(ask(a, put("k", big), 128), "O");
  check_ok(ask(b, "Gk", 3), "T");
  check_ok(ask(b, "Gk", 4), "T100");
}

TEST_CASE_FIXTURE(
    kv_fixture,
    "example: kv_store: a job is answered only after the store replied, "
    "with the response in the buffer") {
  auto a = spawn_worker();
  check_ok(ask(a, put("k", "value")), "O");
  auto& x = send(a, "Gk");
  step(caf::actor_cast<caf::actor>(x.requester)); // sends the job
  step(a);                                        // the worker asks the store
  CHECK(x.answers == 0);
  CHECK(x.bytes(2) == "Gk"); // nothing written yet
  sched.run();               // the store replies, the worker writes and answers
  check_ok(x, "Vvalue");
}

TEST_CASE_FIXTURE(
    kv_fixture,
    "example: kv_store: a worker that exits while the store works for it "
    "writes nothing, the store stays with the others") {
  auto a = spawn_worker();
  auto b = spawn_worker();
  check_ok(ask(a, put("k", "v")), "O");
  auto& x = send(a, "Gk");
  step(caf::actor_cast<caf::actor>(x.requester));
  step(a); // the get is in the store's mailbox
  caf::anon_send_exit(a, caf::exit_reason::user_shutdown);
  step(a);     // a exits
  sched.run(); // the store's reply finds a gone
  CHECK(x.answers == 0);
  CHECK(x.bytes(2) == "Gk");
  CHECK(x.guard_intact());
  // The promise a held went with it: the requester, waiting for it and
  // referenced by nothing else, is gone too. Left: b and the store.
  CHECK(running() == 2);
  check_ok(ask(b, "Gk"), "Vv");
  // A worker spawned in a's place joins the same store.
  auto c = spawn_worker();
  CHECK(running() == 3);
  check_ok(ask(c, "Gk"), "Vv");
}

TEST_CASE_FIXTURE(kv_fixture,
                  "example: kv_store: the store stops with its last worker") {
  auto a = spawn_worker();
  auto b = spawn_worker();
  check_ok(ask(a, put("k", "v")), "O");
  CHECK(running() == 3);
  caf::anon_send_exit(a, caf::exit_reason::user_shutdown);
  sched.run();
  CHECK(running() == 2); // b still holds the store
  check_ok(ask(b, "Gk"), "Vv");
  caf::anon_send_exit(b, caf::exit_reason::user_shutdown);
  sched.run();
  // No worker left: the store is gone, though the row and the handles of
  // the dead workers (`workers`, as a pool keeps them) are still here.
  CHECK(running() == 0);
  // The row's next worker starts a new, empty store.
  auto c = spawn_worker();
  CHECK(running() == 2);
  check_ok(ask(c, "Gk"), "N");
}

TEST_SUITE_END();

// -- through two zones ----------------------------------------------------

namespace {

actors::bytes to_bytes(const std::string& s) {
  return {s.begin(), s.end()};
}

std::string to_string(const actors::bytes& b) {
  return {b.begin(), b.end()};
}

/// One call, expected to succeed; its response as text ("" on failure).
std::string kv_call(caf::scoped_actor& self, const caf::actor& client,
                    const std::string& payload) {
  auto r = actors::call(self, client, k_kv_id, to_bytes(payload));
  REQUIRE_MESSAGE(r, actors::describe(r.error()));
  return to_string(*r);
}

/// A batch of calls on service k_kv_id, expected to succeed.
std::vector<std::string> kv_batch(caf::scoped_actor& self,
                                  const caf::actor& client,
                                  const std::vector<std::string>& payloads) {
  std::vector<vocab::call_spec> calls;
  for (const auto& p : payloads)
    calls.push_back({k_kv_id, to_bytes(p)});
  std::vector<std::string> out;
  self->request(client, std::chrono::seconds(30), vocab::call_atom::value,
                std::move(calls))
      .receive(
          [&](vocab::call_replies& rs) {
            for (auto& r : rs) {
              CHECK_MESSAGE(r.ok, actors::describe(r.error));
              out.push_back(to_string(r.data));
            }
          },
          [&](caf::error& e) { FAIL(actors::describe(e)); });
  return out;
}

} // namespace

TEST_CASE("example: the kv_store service of docs/adding-a-service.md works "
          "through two zones") {
  shm::region_options ro;
  ro.path = "/dev/shm/hyperamp-example-kv-" + std::to_string(::getpid());
  ro.entries = 32;
  ro.max_clients = 2;
  ro.payload_size = 1 << 16;
  auto table = services::registry();
  table.push_back(services::kv_store_entry());
  table.back().id = k_kv_id;
  {
    caf::actor_system_config cfg;
    cfg.set("scheduler.max-threads", std::size_t{2});
    caf::actor_system sys{cfg};
    actors::service_settings settings;
    settings.workers = 4;
    auto service = actors::spawn_service_zone(sys, ro, settings, table);
    REQUIRE_MESSAGE(service, actors::describe(service.error()));
    auto one = actors::spawn_client_zone(sys, ro, {});
    REQUIRE_MESSAGE(one, actors::describe(one.error()));
    auto two = actors::spawn_client_zone(sys, ro, {});
    REQUIRE_MESSAGE(two, actors::describe(two.error()));
    caf::scoped_actor self{sys};
    // put through one client, get through the other
    CHECK(kv_call(self, *one, put("greeting", "hello")) == "O");
    CHECK(kv_call(self, *two, "Ggreeting") == "Vhello");
    CHECK(kv_call(self, *two, put("greeting", "bye")) == "O");
    CHECK(kv_call(self, *one, "Ggreeting") == "Vbye");
    CHECK(kv_call(self, *one, "Gnothing") == "N");
    auto bad = actors::call(self, *two, k_kv_id, to_bytes("Xgreeting"));
    REQUIRE_FALSE(bad);
    CHECK_MESSAGE(vocab::is(bad.error(), vocab::amp_errc::bad_request),
                  actors::describe(bad.error()));
    // Batches spread over the pool's workers; the gets are shifted by one
    // against the puts, so each is likely served by another worker than its
    // put was. Only the answers are checked: whichever worker serves a
    // request, it sees the one store.
    std::vector<std::string> puts, gets{"Gmissing"};
    std::vector<std::string> expected{"N"};
    for (int i = 0; i < 8; ++i) {
      const auto k = "key" + std::to_string(i);
      puts.push_back(put(k, "value" + std::to_string(i)));
      gets.push_back("G" + k);
      expected.push_back("Vvalue" + std::to_string(i));
    }
    CHECK(kv_batch(self, *one, puts) == std::vector<std::string>(8, "O"));
    CHECK(kv_batch(self, *two, gets) == expected);
    caf::anon_send_exit(*one, caf::exit_reason::user_shutdown);
    caf::anon_send_exit(*two, caf::exit_reason::user_shutdown);
    caf::anon_send_exit(*service, caf::exit_reason::user_shutdown);
    // ~actor_system waits for every actor: a store outliving its zone's
    // workers would hang here (and fail on the ctest timeout). `table`,
    // holding the row, outlives the system.
  }
  ::unlink(ro.path.c_str());
}
