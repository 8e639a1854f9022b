// The client/service bridge protocol, stepped deterministically: round
// trips, batching, timeouts racing completions, overload and credit return,
// unknown services, completions that fail validation.
#include "test/actors/bridge_fixture.hpp"
#include "test/shm/partitioned_util.hpp"

#include <algorithm>

using namespace hyperamp;
using namespace hyperamp::actors;
using namespace hyperamp::actors::test;

namespace {

const bytes k_hello = to_bytes("hello");
const bytes k_hello_encrypted = {0x16, 0x4e, 0x2c, 0x2f, 0x12};

struct four_entries : bridge_fixture {
  four_entries() : bridge_fixture(entries(4)) {}
};

} // namespace

TEST_SUITE_BEGIN("bridge protocol");

TEST_CASE_FIXTURE(bridge_fixture, "round trip echo encrypt decrypt") {
  auto sb = spawn_service(service_defaults());
  auto cb = spawn_client(client_defaults());
  auto round_trip = [&](int tag, std::uint32_t sid, const bytes& data) {
    call(tag, cb, sid, data);
    run(); // requester -> client bridge -> flush: submitted, service rung
    CHECK_FALSE(answered(tag));
    wake(sb);
    run(); // taken, run by a worker, completed, client rung
    CHECK_FALSE(answered(tag));
    wake(cb);
    run(); // drained, answered
  };
  round_trip(1, 66, to_bytes("ping"));
  check_ok(1, to_bytes("ping"));
  round_trip(2, 1, k_hello);
  check_ok(2, k_hello_encrypted);
  round_trip(3, 2, k_hello_encrypted);
  check_ok(3, k_hello);
  // The empty payload is a bad request for the cipher services.
  round_trip(4, 1, bytes{});
  check_error(4, amp_errc::bad_request);
  CHECK(log.unexpected == 0);
  const auto& cs = client_stats(cb);
  CHECK(cs.submitted == 4);
  CHECK(cs.completed == 4);
  CHECK(cs.stray == 0);
  CHECK(cs.corrupt == 0);
  auto ss = stats(sb);
  CHECK(ss.completed == 4);
  CHECK(ss.inline_runs == 0);
  CHECK(all_entries_free());
  teardown();
}

TEST_CASE_FIXTURE(bridge_fixture, "round trip with services run inline") {
  auto s = service_defaults();
  s.inline_trivial = true;
  auto sb = spawn_service(s);
  auto cb = spawn_client(client_defaults());
  call(1, cb, 66, to_bytes("ping"));
  call(2, cb, 1, k_hello);
  call(3, cb, 2, k_hello_encrypted);
  run();
  wake(sb);
  run();
  wake(cb);
  run();
  check_ok(1, to_bytes("ping"));
  check_ok(2, k_hello_encrypted);
  check_ok(3, k_hello);
  CHECK(stats(sb).inline_runs == 3);
  CHECK(all_entries_free());
  teardown();
}

TEST_CASE_FIXTURE(bridge_fixture, "ten queued calls form one submit batch") {
  auto s = service_defaults();
  s.batch = 4;
  auto sb = spawn_service(s);
  std::uint16_t slot = 0;
  auto cb = spawn_client(client_defaults(), &slot);
  const auto service_bell =
      region->slot_at(shm::k_service_slot).bell_seq.load();
  for (int i = 0; i < 10; ++i)
    call(i, cb, 66, to_bytes("m" + std::to_string(i)));
  run();
  {
    const auto& cs = client_stats(cb);
    CHECK(cs.batches == 1);
    CHECK(cs.rings == 1);
    CHECK(cs.submitted == 10);
  }
  CHECK(region->slot_at(shm::k_service_slot).bell_seq.load() ==
        service_bell + 1);
  CHECK(census().submitted == 10);
  // Only the service bridge's wake: batch=4 takes 10 entries in 3 lock
  // acquisitions; the workers have not run, so nothing is completed yet.
  wake(sb);
  step(sb);
  CHECK(census().in_service == 10);
  {
    auto ss = stats(sb);
    CHECK(ss.batches == 3);
    CHECK(ss.completed == 0);
  }
  const auto client_bell = region->slot_at(slot).bell_seq.load();
  run(); // the workers answer, completions are published
  auto ss = stats(sb);
  CHECK(ss.completed == 10);
  const auto publish_batches = ss.batches - 3;
  INFO("completion batches: " << publish_batches);
  CHECK(publish_batches >= 1);
  CHECK(publish_batches < 10); // batched, not one lock round per completion
  CHECK(ss.rings == publish_batches); // one ring of the one client per batch
  CHECK(region->slot_at(slot).bell_seq.load() - client_bell == ss.rings);
  CHECK(census().completed == 10);
  wake(cb);
  run();
  for (int i = 0; i < 10; ++i)
    check_ok(i, to_bytes("m" + std::to_string(i)));
  CHECK(client_stats(cb).completed == 10);
  CHECK(all_entries_free());
  teardown();
}

TEST_CASE_FIXTURE(bridge_fixture, "a completion racing the timeout") {
  auto c = client_defaults();
  c.request_timeout = 100ms;
  c.peer_dead = 1h; // the service never beats here: keep it "alive"
  auto sb = spawn_service(service_defaults());
  auto cb = spawn_client(c);
  call(1, cb, 66, to_bytes("late"));
  run();
  wake(sb);
  run(); // the completion is published but the client has not drained it
  CHECK(census().completed == 1);
  advance(50ms);
  tick(cb);
  run();
  CHECK_FALSE(answered(1)); // not yet due
  advance(51ms);
  tick(cb);
  run();
  check_error(1, amp_errc::timeout);
  tick(cb); // a second tick answers nothing twice
  run();
  check_error(1, amp_errc::timeout);
  CHECK(client_stats(cb).timeouts == 1);
  CHECK(census().completed == 1); // the entry is still the client's to take
  wake(cb);
  run(); // the completion arrives: no second answer, entry released
  check_error(1, amp_errc::timeout);
  CHECK(log.unexpected == 0);
  CHECK(client_stats(cb).completed == 1);
  CHECK(client_stats(cb).stray == 0);
  CHECK(all_entries_free());
  // The payload was freed: a request the size of the whole partition fits.
  const bytes big(region->geo().partition_size, 0xab);
  call(2, cb, 66, big);
  run();
  wake(sb);
  run();
  wake(cb);
  run();
  check_ok(2, big);
  CHECK(all_entries_free());
  teardown();
}

TEST_CASE_FIXTURE(bridge_fixture, "timeout of a request still in the queue") {
  auto c = client_defaults();
  c.request_timeout = 100ms;
  c.peer_dead = 1h;
  auto sb = spawn_service(service_defaults());
  auto cb = spawn_client(c);
  call(1, cb, 66, to_bytes("never taken"));
  run();
  advance(200ms);
  tick(cb);
  run();
  check_error(1, amp_errc::timeout);
  // The service takes it late; the client drops the answer, frees the entry.
  wake(sb);
  run();
  wake(cb);
  run();
  check_error(1, amp_errc::timeout);
  CHECK(all_entries_free());
  teardown();
}

TEST_CASE_FIXTURE(four_entries, "overload and credit return") {
  auto c = client_defaults();
  c.pending_limit = 2;
  auto sb = spawn_service(service_defaults());
  auto cb = spawn_client(c);
  for (int i = 1; i <= 7; ++i)
    call(i, cb, 66, to_bytes("r" + std::to_string(i)));
  run();
  // 4 entries in flight, 2 pending, the 7th refused at once.
  check_error(7, amp_errc::overloaded);
  for (int i = 1; i <= 6; ++i)
    CHECK_FALSE(answered(i));
  {
    const auto& cs = client_stats(cb);
    CHECK(cs.submitted == 4);
    CHECK(cs.overloaded == 1);
  }
  CHECK(census().free == 0);
  // A call while the pending list is full is refused at once, too.
  call(8, cb, 66, to_bytes("r8"));
  run();
  check_error(8, amp_errc::overloaded);
  // Completions return the credit: the pending requests are started.
  wake(sb);
  run();
  wake(cb);
  run();
  for (int i = 1; i <= 4; ++i)
    check_ok(i, to_bytes("r" + std::to_string(i)));
  CHECK_FALSE(answered(5));
  CHECK(client_stats(cb).submitted == 6);
  wake(sb);
  run();
  wake(cb);
  run();
  for (int i = 5; i <= 6; ++i)
    check_ok(i, to_bytes("r" + std::to_string(i)));
  CHECK(client_stats(cb).overloaded == 2);
  CHECK(all_entries_free());
  teardown();
}

TEST_CASE_FIXTURE(bridge_fixture, "too large a payload is refused at once") {
  auto sb = spawn_service(service_defaults());
  auto cb = spawn_client(client_defaults());
  call(1, cb, 66, bytes(region->geo().partition_size + 1, 1));
  run();
  check_error(1, amp_errc::too_large);
  CHECK(client_stats(cb).submitted == 0);
  teardown();
}

TEST_CASE_FIXTURE(bridge_fixture,
                  "unknown service id and the zone keeps serving") {
  auto sb = spawn_service(service_defaults());
  auto cb = spawn_client(client_defaults());
  call(1, cb, 3, to_bytes("who"));
  call(2, cb, 66, to_bytes("still here"));
  run();
  wake(sb);
  run();
  wake(cb);
  run();
  check_error(1, amp_errc::unknown_service);
  check_ok(2, to_bytes("still here"));
  // And afterwards, too.
  call(3, cb, 1, k_hello);
  run();
  wake(sb);
  run();
  wake(cb);
  run();
  check_ok(3, k_hello_encrypted);
  CHECK(stats(sb).corrupt == 0);
  CHECK(all_entries_free());
  teardown();
}

TEST_CASE_FIXTURE(bridge_fixture,
                  "a completion with a recycled sequence number is corrupt") {
  auto sb = spawn_service(service_defaults());
  std::uint16_t slot = 0;
  auto cb = spawn_client(client_defaults(), &slot);
  call(1, cb, 66, to_bytes("aaaa"));
  call(2, cb, 66, to_bytes("bbbb"));
  run();
  wake(sb);
  run();
  auto done = completed_of(slot);
  REQUIRE(done.size() == 2);
  // The older request is A. Make its entry claim to complete B's request,
  // as a recycled entry carrying a stale completion would.
  auto& e0 = region->entry_at(done[0]);
  auto& e1 = region->entry_at(done[1]);
  auto& a = e0.seq < e1.seq ? e0 : e1;
  auto& b = e0.seq < e1.seq ? e1 : e0;
  REQUIRE(a.done_seq == a.seq);
  a.done_seq = b.seq;
  wake(cb);
  run();
  check_error(1, amp_errc::corrupt); // not B's data
  check_ok(2, to_bytes("bbbb"));
  CHECK(client_stats(cb).corrupt == 1);
  CHECK(all_entries_free());
  // Its payload was freed with it.
  const bytes big(region->geo().partition_size, 0x5a);
  call(3, cb, 66, big);
  run();
  wake(sb);
  run();
  wake(cb);
  run();
  check_ok(3, big);
  CHECK(all_entries_free());
  teardown();
}

TEST_CASE_FIXTURE(bridge_fixture,
                  "a completion with a bad status or length is corrupt") {
  auto sb = spawn_service(service_defaults());
  std::uint16_t slot = 0;
  auto cb = spawn_client(client_defaults(), &slot);
  call(1, cb, 66, to_bytes("status"));
  call(2, cb, 66, to_bytes("length"));
  call(3, cb, 66, to_bytes("fine"));
  run();
  wake(sb);
  run();
  auto done = completed_of(slot);
  REQUIRE(done.size() == 3);
  std::sort(done.begin(), done.end(), [&](std::uint32_t x, std::uint32_t y) {
    return region->entry_at(x).seq < region->entry_at(y).seq;
  });
  region->entry_at(done[0]).status = 0x77;            // no such status
  region->entry_at(done[1]).result_length = 1u << 20; // beyond its buffer
  wake(cb);
  run();
  check_error(1, amp_errc::corrupt);
  check_error(2, amp_errc::corrupt);
  check_ok(3, to_bytes("fine"));
  const auto cs = client_stats(cb);
  CHECK(cs.corrupt == 2);
  // Each reason is counted under its own name.
  std::map<std::string, std::uint64_t> why(cs.rejected.begin(),
                                           cs.rejected.end());
  CHECK(why.size() == 2);
  CHECK(why["completion status invalid"] == 1);
  CHECK(why["result length exceeds the buffer"] == 1);
  CHECK(all_entries_free());
  teardown();
}

TEST_CASE_FIXTURE(bridge_fixture,
                  "a request that fails validation is answered bad_request "
                  "and its reason counted in the service's statistics") {
  auto sb = spawn_service(service_defaults());
  std::uint16_t slot = 0;
  auto cb = spawn_client(client_defaults(), &slot);
  call(1, cb, 66, to_bytes("misaligned"));
  call(2, cb, 66, to_bytes("good"));
  run(); // submitted, not yet taken
  // The peer's descriptor of request 1 is damaged before the service reads
  // it: an offset inside the partition but not 64-byte aligned.
  auto& e = region->entry_at(submitted_head());
  e.payload_offset += 8;
  wake(sb);
  run();
  wake(cb);
  run();
  check_error(1, amp_errc::bad_request);
  check_ok(2, to_bytes("good"));
  const auto ss = stats(sb);
  REQUIRE(ss.rejected.size() == 1);
  CHECK(ss.rejected[0].first == "payload offset not 64-byte aligned");
  CHECK(ss.rejected[0].second == 1);
  CHECK(all_entries_free());
  teardown();
}

TEST_SUITE_END();

TEST_SUITE_BEGIN("errors");

TEST_CASE("the error vocabulary renders and matches") {
  CHECK(describe(caf::make_error(amp_errc::timeout)) == "timeout");
  CHECK(describe(caf::make_error(amp_errc::peer_down)) == "peer_down");
  CHECK(describe(caf::make_error(amp_errc::shutting_down)) == "shutting_down");
  CHECK(is(caf::make_error(amp_errc::corrupt), amp_errc::corrupt));
  CHECK_FALSE(is(caf::make_error(amp_errc::corrupt), amp_errc::aborted));
  // A CAF error with the same code number is not a hyperamp error.
  CHECK_FALSE(is(caf::make_error(caf::sec::unexpected_message),
                 static_cast<amp_errc>(
                     static_cast<std::uint8_t>(caf::sec::unexpected_message))));
  CHECK(describe(caf::make_error(caf::sec::request_timeout)).find("timeout") !=
        std::string::npos);
  // No error at all (CAF 0.17 dereferences null in category() for it).
  CHECK_FALSE(is(caf::error{}, amp_errc::timeout));
  CHECK(describe(caf::error{}) == "none");
}

TEST_SUITE_END();

TEST_CASE_FIXTURE(bridge_fixture,
                  "a client zone whose slot was given to another zone stops "
                  "and its callers hear replaced") {
  auto sb = spawn_service(service_defaults());
  std::uint16_t slot = 0;
  auto cb = spawn_client(client_defaults(), &slot);
  REQUIRE(slot >= 1);
  call(1, cb, 66, to_bytes("ping"));
  run(); // submitted, not yet taken
  // Declared dead while only stopped: evicted, and the slot claimed anew.
  auto& owner = region->slot_at(slot).owner;
  const auto w = shm::unpack(owner.load());
  owner.store(shm::pack(shm::owner_word{shm::slot_state::active, w.epoch + 2}));
  tick(cb);
  run();
  check_error(1, amp_errc::replaced);
  call(2, cb, 66, to_bytes("late"));
  run();
  REQUIRE(answered(2)); // the bridge is gone: an error at once, no hang
  CHECK(log.unexpected == 0);
  (void)sb;
}

TEST_CASE_FIXTURE(bridge_fixture,
                  "a port that holds all it can says full; the bridge takes "
                  "the rest on the same wake, not at the next tick") {
  // The partitioned layout: 4 service records, two clients with 4 requests
  // each in their rings: one take gets 4 and says `full`, and no bell
  // will come for the other 4.
  for (const bool inline_echo : {true, false}) {
    INFO("inline echo: " << inline_echo);
    const std::string p = unique_region_path();
    auto o = shm::test::partitioned_options(p, 4, 2);
    o.peer_dead = 1s;
    auto service = shm::test::open_service(o);
    std::unique_ptr<shm::client_port> clients[2] = {shm::test::open_client(o),
                                                    shm::test::open_client(o)};
    auto s = service_defaults();
    s.inline_trivial = inline_echo;
    auto sb =
        sys.spawn<service_bridge>(std::move(service), s, services::registry());
    actors.push_back(sb);
    run();
    std::uint64_t seq = 1;
    for (auto& c : clients)
      for (int i = 0; i < 4; ++i)
        shm::test::send(*c, "echo me", seq++);
    wake(sb);
    run(); // no tick, no virtual time: only the wake and what follows it
    for (auto& c : clients) {
      std::vector<shm::completion> done(8);
      const auto got = c->take_completed(done.data(), done.size());
      CHECK(got.count == 4);
      for (std::size_t i = 0; i < got.count; ++i) {
        CHECK(done[i].why == nullptr);
        CHECK(done[i].result == shm::wire_status::ok);
        c->release(&done[i].ticket, 1);
      }
      c->leave();
    }
    caf::anon_send_exit(sb, caf::exit_reason::user_shutdown);
    run();
    ::unlink(p.c_str());
  }
  teardown();
}

TEST_CASE_FIXTURE(bridge_fixture,
                  "a drain that could go on for ever reads its mailbox after a "
                  "few rounds and goes on with a wake it sent itself") {
  // The partitioned layout with two service records and 8 clients with two
  // requests each: every take gets two and says `full`, so one wake needs 8
  // rounds (the inline echo publishes at the end of each).
  const std::string p = unique_region_path();
  auto o = shm::test::partitioned_options(p, 2, 8);
  o.peer_dead = 1s;
  auto service = shm::test::open_service(o);
  std::vector<std::unique_ptr<shm::client_port>> clients;
  for (int i = 0; i < 8; ++i)
    clients.push_back(shm::test::open_client(o));
  auto s = service_defaults();
  s.inline_trivial = true;
  auto sb =
      sys.spawn<service_bridge>(std::move(service), s, services::registry());
  actors.push_back(sb);
  run();
  std::uint64_t seq = 1;
  for (auto& c : clients)
    for (int i = 0; i < 2; ++i)
      shm::test::send(*c, "echo me", seq++);
  auto completed = [&] {
    std::size_t n = 0;
    for (auto& c : clients) {
      shm::completion done[4];
      const auto got = c->take_completed(done, 4);
      for (std::size_t i = 0; i < got.count; ++i) {
        CHECK(done[i].why == nullptr);
        CHECK(done[i].result == shm::wire_status::ok);
        c->release(&done[i].ticket, 1);
      }
      n += got.count;
    }
    return n;
  };
  wake(sb);
  step(sb); // the wake: 4 rounds of 2, then a wake of its own
  CHECK(completed() == 8u);
  CHECK(sched.has_job()); // the bridge's own wake, nothing else sent it
  run();                  // the other 4 rounds
  CHECK(completed() == 8u);
  for (auto& c : clients)
    c->leave();
  caf::anon_send_exit(sb, caf::exit_reason::user_shutdown);
  run();
  ::unlink(p.c_str());
  teardown();
}
