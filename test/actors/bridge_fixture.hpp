// Shared by the bridge protocol suites: one actor system on CAF's test
// coordinator (single-threaded, virtual time), a region file under /dev/shm,
// a requester actor that records every answer, and test-only service actors
// (slow, failing) whose instances report to a process-wide probe.
//
// Nothing here sleeps or looks at the wall clock: the bridges run with
// start_waiter=false and the tests deliver wake_atom / tick_atom by hand;
// deadlines and liveness use the coordinator's virtual clock.
#pragma once

#include <doctest/doctest.h>

#include <caf/all.hpp>
#include <caf/scheduler/test_coordinator.hpp>

#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cstdint>
#include <deque>
#include <map>
#include <memory>
#include <stdexcept>
#include <string>
#include <utility>
#include <vector>

#include "actors/client_bridge.hpp"
#include "actors/fwd.hpp"
#include "actors/service_bridge.hpp"
#include "actors/zone.hpp"
#include "services/registry.hpp"
#include "shm/layout.hpp"
#include "shm/locked_ports.hpp"
#include "shm/participant.hpp"
#include "shm/queue.hpp"
#include "shm/region.hpp"
#include "shm/zone_lock.hpp"

namespace hyperamp::actors::test {

using namespace std::chrono_literals;

using release_atom = caf::atom_constant<caf::atom("release")>;

inline bytes to_bytes(const std::string& s) {
  return bytes(s.begin(), s.end());
}

// -- service ids of the test-only services ----------------------------------

inline constexpr std::uint32_t k_slow_id = 5;
inline constexpr std::uint32_t k_failing_id = 7;

// -- the probe: what the test-only service instances did ---------------------

/// One job as a test service instance saw it.
struct handled_job {
  caf::actor_id instance = 0;
  std::uint8_t first = 0; ///< first payload byte (0 for an empty payload)
};

/// The slow service's interface: the service interface plus a release
/// message (answer the n oldest held jobs).
using slow_actor =
    caf::typed_actor<caf::replies_to<job>::with<job_result>,
                     caf::reacts_to<release_atom, std::uint32_t>>;

/// Process-wide record of the test services' instances. Reset by every
/// fixture (at start and before the actor system goes away).
struct service_probe {
  std::vector<caf::actor_id> instances; ///< in spawn order
  std::vector<slow_actor> slow;         ///< the slow instances, spawn order
  std::vector<handled_job> handled;
  std::map<caf::actor_id, std::uint32_t> holding; ///< held jobs per instance
  std::uint32_t max_holding = 0; ///< the most one instance ever held
  void reset() { *this = service_probe{}; }
  std::size_t index_of(caf::actor_id id) const {
    for (std::size_t i = 0; i < instances.size(); ++i)
      if (instances[i] == id)
        return i;
    return instances.size();
  }
};

inline service_probe& probe() {
  static service_probe p;
  return p;
}

/// Service k_slow_id: holds every job whose payload starts with 'S' until
/// released (release_atom, n); answers anything else at once, as echo.
class slow_service : public slow_actor::base {
public:
  explicit slow_service(caf::actor_config& cfg) : slow_actor::base(cfg) {
    probe().instances.push_back(id());
    probe().slow.push_back(caf::actor_cast<slow_actor>(this));
  }

  behavior_type make_behavior() override {
    return {
        [this](job& j) -> caf::result<job_result> {
          probe().handled.push_back(
              {id(), j.length > 0 ? j.data[0] : std::uint8_t{0}});
          if (j.length == 0 || j.data[0] != 'S')
            return job_result{shm::wire_status::ok, j.length};
          held_.emplace_back(make_response_promise<job_result>(), j);
          auto& n = probe().holding[id()];
          ++n;
          if (n > probe().max_holding)
            probe().max_holding = n;
          return caf::delegated<job_result>{};
        },
        [this](release_atom, std::uint32_t n) {
          for (; n > 0 && !held_.empty(); --n) {
            auto& h = held_.front();
            h.first.deliver(job_result{shm::wire_status::ok, h.second.length});
            held_.pop_front();
            --probe().holding[id()];
          }
        },
    };
  }

  void on_exit() override {
    // A promise holds its actor: held ones would keep it (and the bridge
    // they answer) alive forever.
    held_.clear();
  }

  const char* name() const override { return "slow_service"; }

private:
  std::deque<std::pair<caf::typed_response_promise<job_result>, job>> held_;
};

/// Service k_failing_id: a job starting with 'T' makes the instance throw,
/// one starting with 'Q' makes it quit without answering; others are echoed.
class failing_service : public service_actor::base {
public:
  explicit failing_service(caf::actor_config& cfg) : service_actor::base(cfg) {
    probe().instances.push_back(id());
  }

  behavior_type make_behavior() override {
    return {
        [this](job& j) -> caf::result<job_result> {
          const std::uint8_t first = j.length > 0 ? j.data[0] : std::uint8_t{0};
          probe().handled.push_back({id(), first});
          if (first == 'T')
            throw std::runtime_error("failing_service: told to throw");
          if (first == 'Q') {
            quit(caf::sec::runtime_error);
            return caf::delegated<job_result>{};
          }
          return job_result{shm::wire_status::ok, j.length};
        },
    };
  }

  const char* name() const override { return "failing_service"; }
};

inline vocab::service_entry slow_entry() {
  vocab::service_entry e;
  e.id = k_slow_id;
  e.name = "slow";
  e.spawn = [](caf::actor_system& sys) -> service_actor {
    return sys.spawn<slow_service>();
  };
  return e;
}

inline vocab::service_entry failing_entry() {
  vocab::service_entry e;
  e.id = k_failing_id;
  e.name = "failing";
  e.spawn = [](caf::actor_system& sys) -> service_actor {
    return sys.spawn<failing_service>();
  };
  return e;
}

/// The registry's table (1, 2, 66) plus `extra`.
inline std::vector<vocab::service_entry>
table_with(std::vector<vocab::service_entry> extra = {}) {
  auto t = services::registry();
  for (auto& e : extra)
    t.push_back(e);
  return t;
}

// -- the requester: sends calls, records answers -----------------------------

/// What came back for one call (by tag).
struct answer {
  int count = 0; ///< answers received (must end up exactly 1)
  bool ok = false;
  bytes data;
  caf::error err;
};

struct requester_log {
  std::map<int, answer> answers;
  /// Batch calls: the replies in order, or the error of the whole call.
  std::map<int, std::vector<answer>> batches;
  bridge_stats stats;
  int stats_replies = 0;
  int unexpected = 0; ///< messages no handler matched
};

/// Messages:
///   (call_atom, tag, target, service_id, bytes): one request to `target`
///       (a bridge or a client actor); its answer is recorded under `tag`.
///   (call_atom, tag, target, std::vector<call_spec>): one batch call; its
///       replies are recorded under `tag` in log.batches.
///   (stats_atom, bridge): asks `bridge` for its counters (high priority).
class requester : public caf::event_based_actor {
public:
  requester(caf::actor_config& cfg, requester_log* log)
      : caf::event_based_actor(cfg), log_(log) {}

  caf::behavior make_behavior() override {
    set_default_handler(
        [this](caf::scheduled_actor*,
               caf::message_view&) -> caf::result<caf::message> {
          ++log_->unexpected;
          return caf::message{};
        });
    return {
        [this](call_atom, int tag, const caf::actor& bridge,
               std::uint32_t service_id, bytes& data) {
          request(bridge, caf::infinite, call_atom::value, service_id,
                  std::move(data))
              .then(
                  [this, tag](bytes& reply) {
                    auto& a = log_->answers[tag];
                    ++a.count;
                    a.ok = true;
                    a.data = std::move(reply);
                  },
                  [this, tag](caf::error& err) {
                    auto& a = log_->answers[tag];
                    ++a.count;
                    a.ok = false;
                    a.err = std::move(err);
                  });
        },
        [this](call_atom, int tag, const caf::actor& target,
               std::vector<call_spec>& calls) {
          request(target, caf::infinite, call_atom::value, std::move(calls))
              .then(
                  [this, tag](call_replies& replies) {
                    auto& out = log_->batches[tag];
                    for (auto& r : replies)
                      out.push_back(
                          {1, r.ok, std::move(r.data), std::move(r.error)});
                  },
                  [this, tag](caf::error& err) {
                    log_->batches[tag].push_back({1, false, {}, err});
                  });
        },
        [this](stats_atom, const caf::actor& bridge) {
          request<caf::message_priority::high>(bridge, caf::infinite,
                                               stats_atom::value)
              .then([this](const bridge_stats& s) {
                log_->stats = s;
                ++log_->stats_replies;
              });
        },
    };
  }

  const char* name() const override { return "requester"; }

private:
  requester_log* log_;
};

// -- the fixture -------------------------------------------------------------

inline std::string unique_region_path() {
  static std::atomic<unsigned> counter{0};
  return "/dev/shm/hyperamp-actest-" + std::to_string(::getpid()) + "-" +
         std::to_string(counter.fetch_add(1));
}

struct region_geometry {
  std::uint32_t entries = 16;
  std::uint32_t clients = 4;
  std::uint64_t payload = 4 * 4096; ///< 4096 bytes per client partition
};

struct bridge_fixture {
  static caf::actor_system_config& init(caf::actor_system_config& cfg) {
    cfg.set("scheduler.policy", caf::atom("testing"));
    cfg.set("logger.inline-output", true);
    return cfg;
  }

  caf::actor_system_config cfg;
  caf::actor_system sys{init(cfg)};
  caf::scheduler::test_coordinator& sched =
      dynamic_cast<caf::scheduler::test_coordinator&>(sys.scheduler());
  std::string path = unique_region_path();
  /// The test's own mapping (the bridges get mappings of their own, as
  /// separate processes would): census, tampering, slot inspection.
  std::shared_ptr<shm::region> region;
  shm::region_options options;
  shm::null_lock no_lock;
  std::unique_ptr<shm::queue<shm::null_lock>> queue;
  requester_log log;
  caf::actor req;
  std::vector<caf::actor> actors; ///< stopped at teardown
  bool torn_down = false;

  explicit bridge_fixture(region_geometry g = {}) {
    probe().reset();
    options.path = path;
    options.entries = g.entries;
    options.max_clients = g.clients;
    options.payload_size = g.payload;
    options.create = shm::create_mode::create;
    auto r = shm::region::open(options);
    REQUIRE_MESSAGE(r, r.message);
    region = std::shared_ptr<shm::region>{std::move(r.value)};
    queue = std::make_unique<shm::queue<shm::null_lock>>(*region, no_lock);
    req = sys.spawn<requester>(&log);
    sched.run();
  }

  ~bridge_fixture() {
    teardown();
    ::unlink(path.c_str());
  }

  /// Stops every actor and drains the coordinator. Idempotent; tests call it
  /// to check the shutdown, the destructor calls it in any case.
  void teardown() {
    if (torn_down)
      return;
    torn_down = true;
    for (auto& a : actors)
      caf::anon_send_exit(a, caf::exit_reason::user_shutdown);
    caf::anon_send_exit(req, caf::exit_reason::user_shutdown);
    sched.clock().cancel_all();
    sched.run();
    actors.clear();
    req = nullptr;
    probe().reset(); // drops the handles to slow instances
    sched.run();
    CHECK_MESSAGE(sys.registry().running() == 0,
                  "actors still running after teardown");
    if (sys.registry().running() != 0)
      sys.await_actors_before_shutdown(false); // never hang the suite
  }

  /// A mapping of the region for a bridge (as another process would have).
  std::shared_ptr<shm::region> mapping() {
    auto o = options;
    o.create = shm::create_mode::attach;
    auto r = shm::region::open(o);
    REQUIRE_MESSAGE(r, r.message);
    return std::shared_ptr<shm::region>{std::move(r.value)};
  }

  static service_settings service_defaults() {
    service_settings s;
    s.start_waiter = false;
    s.workers = 2;
    return s;
  }

  static client_settings client_defaults() {
    client_settings s;
    s.zone_id = 2;
    s.start_waiter = false;
    s.request_timeout = 5s;
    s.peer_dead = 1s;
    return s;
  }

  /// The zone options of a bridge in these tests (the region is the
  /// fixture's; every bridge gets a mapping of its own).
  shm::zone_options zone_opts(std::uint32_t zone_id,
                              const shm::bell_settings& bell,
                              std::chrono::nanoseconds peer_dead) const {
    shm::zone_options o;
    o.region = options;
    o.region.create = shm::create_mode::attach;
    o.zone_id = zone_id;
    o.bell = bell;
    o.peer_dead = peer_dead;
    return o;
  }

  /// Claims the service slot (taking over a silent predecessor) and spawns
  /// a service bridge on a port of its own; runs its start-up.
  caf::actor
  spawn_service(service_settings s,
                std::vector<vocab::service_entry> table = services::registry(),
                bool expect_takeover = false) {
    auto m = mapping();
    shm::participant self;
    // The predecessor (if any) never beats in these tests: a short watch.
    auto st = shm::participant::claim_service(*m, s.zone_id, 2ms, self);
    REQUIRE(st == shm::status::ok);
    CHECK(self.took_over() == expect_takeover);
    shm::zone_bells bells;
    std::string err;
    REQUIRE_MESSAGE(shm::open_bells(*m, shm::zone_role::service,
                                    shm::k_service_slot, s.bell, bells, &err),
                    err);
    auto port = std::make_unique<shm::locked_service_port>(
        m, self, zone_opts(s.zone_id, s.bell, s.peer_dead), std::move(bells));
    auto b = sys.spawn<service_bridge>(std::move(port), s, std::move(table));
    actors.push_back(b);
    sched.run();
    return b;
  }

  /// Claims a client slot and spawns a client bridge on a port of its own;
  /// returns the bridge and stores the slot index in *slot.
  caf::actor spawn_client(client_settings s, std::uint16_t* slot = nullptr) {
    auto m = mapping();
    shm::participant self;
    REQUIRE(shm::participant::claim_client(*m, s.zone_id, self) ==
            shm::status::ok);
    if (slot)
      *slot = static_cast<std::uint16_t>(self.index());
    shm::zone_bells bells;
    std::string err;
    REQUIRE_MESSAGE(shm::open_bells(*m, shm::zone_role::client, self.index(),
                                    s.bell, bells, &err),
                    err);
    auto port = std::make_unique<shm::locked_client_port>(
        m, self, zone_opts(s.zone_id, s.bell, s.peer_dead), std::move(bells));
    auto b = sys.spawn<client_bridge>(std::move(port), s);
    actors.push_back(b);
    sched.run();
    return b;
  }

  // -- driving ---------------------------------------------------------------

  /// Queues one request at the requester (nothing runs yet).
  void call(int tag, const caf::actor& bridge, std::uint32_t service_id,
            bytes data) {
    caf::anon_send(req, call_atom::value, tag, bridge, service_id,
                   std::move(data));
  }

  /// Queues one batch call at the requester (nothing runs yet).
  void call_batch(int tag, const caf::actor& target,
                  std::vector<call_spec> calls) {
    caf::anon_send(req, call_atom::value, tag, target, std::move(calls));
  }

  void wake(const caf::actor& bridge) {
    caf::anon_send(bridge, wake_atom::value);
  }

  void tick(const caf::actor& bridge) {
    caf::anon_send(bridge, tick_atom::value);
  }

  /// Runs every queued message (never triggers timeouts).
  void run() { sched.run(); }

  /// Runs exactly one message of `hdl`.
  void step(const caf::actor& hdl) {
    REQUIRE(sched.prioritize(hdl));
    sched.run_once();
  }

  /// Advances virtual time (fires no bridge logic by itself: tick does).
  void advance(caf::timespan t) { sched.clock().advance_time(t); }

  /// The client bridge's counters, read directly (single-threaded).
  bridge_stats client_stats(const caf::actor& bridge) {
    auto* p = caf::actor_cast<caf::abstract_actor*>(bridge);
    return dynamic_cast<client_bridge&>(*p).stats();
  }

  /// Any bridge's counters through stats_atom, running only the requester
  /// and `bridge` (other actors' mailboxes stay untouched).
  bridge_stats stats(const caf::actor& bridge) {
    const int before = log.stats_replies;
    caf::anon_send(req, stats_atom::value, bridge);
    for (int i = 0; i < 1000 && log.stats_replies == before; ++i) {
      if (sched.prioritize(req) || sched.prioritize(bridge))
        sched.run_once();
      else
        break;
    }
    REQUIRE(log.stats_replies == before + 1);
    return log.stats;
  }

  // -- inspection ------------------------------------------------------------

  shm::list_census census() { return queue->census(); }

  bool all_entries_free() {
    auto c = census();
    return c.consistent && c.free == region->entry_count();
  }

  const answer* find(int tag) const {
    auto i = log.answers.find(tag);
    return i == log.answers.end() ? nullptr : &i->second;
  }

  bool answered(int tag) const { return find(tag) != nullptr; }

  /// Exactly one answer, and it is `expected`.
  void check_ok(int tag, const bytes& expected) {
    INFO("tag " << tag);
    auto* a = find(tag);
    REQUIRE(a != nullptr);
    CHECK(a->count == 1);
    CHECK_MESSAGE(a->ok, describe(a->err));
    CHECK(a->data == expected);
  }

  /// Exactly one answer, and it is the hyperamp error `code`.
  void check_error(int tag, amp_errc code) {
    INFO("tag " << tag << ", expected " << to_string(code));
    auto* a = find(tag);
    REQUIRE(a != nullptr);
    CHECK(a->count == 1);
    CHECK_FALSE(a->ok);
    CHECK_MESSAGE(is(a->err, code), "got " << describe(a->err));
  }

  /// The first entry on the submitted list.
  std::uint32_t submitted_head() {
    const std::uint32_t i = region->header().submitted_head;
    REQUIRE(i < region->entry_count());
    return i;
  }

  /// Entries of client slot `slot` on its completed list, head first.
  std::vector<std::uint32_t> completed_of(std::uint16_t slot) {
    std::vector<std::uint32_t> out;
    std::uint32_t i = region->slot_at(slot).completed_head;
    while (i != shm::k_nil && out.size() <= region->entry_count()) {
      out.push_back(i);
      i = region->entry_at(i).next;
    }
    return out;
  }
};

/// Shorthands for region geometries.
inline region_geometry entries(std::uint32_t n) {
  region_geometry g;
  g.entries = n;
  return g;
}

} // namespace hyperamp::actors::test
