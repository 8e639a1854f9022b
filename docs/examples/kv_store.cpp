// Example service for docs/adding-a-service.md, "A service with state of its
// own": a key-value store. The pool's workers share one store actor that
// owns the map; a worker turns a request into a message to the store and
// answers the job once the store has replied.
// To make it part of hyperamp, copy this file to services/kv_store.cpp and
// add one line to services/services.def:
//   HYPERAMP_SERVICE(4, kv_store)
// test/example/ compiles this very file, runs it on CAF's test coordinator
// and through two zones.
//
// Requests (first byte the operation; a key is one byte or more, no \0):
//   P<key>\0<value>   put (value: any bytes, may be empty) -> O
//   G<key>            get                                  -> V<value> or N
//   D<key>            delete                               -> O or N
// G and D ignore whatever follows a \0 after the key (padding, see T).
// Answers replace the request in the buffer: O done, N no such key, V and
// the value. A value longer than capacity - 1 bytes is not cut short: the
// answer is T and the value's length in decimal; a get padded to at least
// 1 + length bytes has room for it (capacity >= length). Any other payload
// (empty, unknown operation, empty key, a put without \0) is bad_request.
#include <cstring>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <unordered_map>

#include "services/registry.hpp"

namespace hyperamp::services {

namespace {

// -- the store: one actor owning the map, messages of its own -----------------

using kv_get_atom = caf::atom_constant<caf::atom("kv_get")>;
using kv_put_atom = caf::atom_constant<caf::atom("kv_put")>;
using kv_del_atom = caf::atom_constant<caf::atom("kv_del")>;

using kv_store_actor = caf::typed_actor<
    caf::replies_to<kv_get_atom, std::string>::with<bool, std::string>,
    caf::replies_to<kv_put_atom, std::string, std::string>::with<void>,
    caf::replies_to<kv_del_atom, std::string>::with<bool>>;

class kv_store final : public kv_store_actor::base {
public:
  explicit kv_store(caf::actor_config& cfg) : kv_store_actor::base(cfg) {}

  behavior_type make_behavior() override {
    return {
        // -> found, value
        [this](kv_get_atom,
               const std::string& key) -> caf::result<bool, std::string> {
          auto i = map_.find(key);
          if (i == map_.end())
            return {false, std::string{}};
          return {true, i->second};
        },
        [this](kv_put_atom, std::string& key, std::string& value) {
          map_.insert_or_assign(std::move(key), std::move(value));
        },
        // -> whether there was one to delete
        [this](kv_del_atom, const std::string& key) {
          return map_.erase(key) > 0;
        },
    };
  }

  const char* name() const override { return "kv_store.store"; }

private:
  std::unordered_map<std::string, std::string> map_;
};

/// Shared by a row and its copies: gives every worker in an actor system
/// the same store, spawning it for the first. It holds the store weakly:
/// the workers own it together, and CAF ends it (exit reason unreachable)
/// once the last of them has exited. A table may serve zones in several
/// actor systems; each has a store of its own.
class kv_store_link {
public:
  kv_store_actor store_for(caf::actor_system& sys) {
    std::lock_guard<std::mutex> guard{mtx_}; // zones may share the row
    auto& weak = stores_[&sys];
    auto store = caf::actor_cast<kv_store_actor>(weak);
    if (!store) {
      store = sys.spawn<kv_store>();
      weak = caf::actor_cast<caf::weak_actor_ptr>(store);
    }
    return store;
  }

private:
  std::mutex mtx_;
  std::map<caf::actor_system*, caf::weak_actor_ptr> stores_;
};

// -- the service: one worker of the pool --------------------------------------

/// Writes the answer over the request: `tag`, then `body`. Called before the
/// job is answered: once it is, the buffer is the bridge's again.
job_result answer(const job& j, char tag, const std::string& body = {}) {
  if (1 + body.size() > j.capacity)
    return {shm::wire_status::service_failed, 0};
  j.data[0] = static_cast<std::uint8_t>(tag);
  std::memcpy(j.data + 1, body.data(), body.size());
  return {shm::wire_status::ok, static_cast<std::uint32_t>(1 + body.size())};
}

job_result answer_value(const job& j, const std::string& value) {
  if (1 + value.size() <= j.capacity)
    return answer(j, 'V', value);
  auto n = std::to_string(value.size());
  return answer(j, 'T', 1 + n.size() <= j.capacity ? n : std::string{});
}

class kv_store_service final : public service_actor::base {
public:
  kv_store_service(caf::actor_config& cfg, std::shared_ptr<kv_store_link> link)
      : service_actor::base(cfg), store_(link->store_for(system())) {}

  behavior_type make_behavior() override {
    return {[this](job& j) { return handle(j); }};
  }

  // The worker's share of the store goes when it exits, not when the last
  // handle to it does (its pool may keep one a while).
  void on_exit() override { store_ = nullptr; }

  const char* name() const override { return "kv_store"; }

private:
  caf::result<job_result> handle(const job& j) {
    // One copy of the payload, first: the client may still write to the
    // shared region, and the store keeps key and value.
    if (j.length < 2)
      return job_result{shm::wire_status::bad_request, 0};
    const std::string in(reinterpret_cast<const char*>(j.data), j.length);
    const char op = in[0];
    const auto nul = in.find('\0', 1);
    std::string key = in.substr(1, nul == std::string::npos ? nul : nul - 1);
    if (key.empty() || (op != 'P' && op != 'G' && op != 'D') ||
        (op == 'P' && nul == std::string::npos))
      return job_result{shm::wire_status::bad_request, 0};
    // The job is answered from the store's reply (the promise keeps the
    // bridge's request open until then).
    auto rp = make_response_promise<job_result>();
    auto failed = [rp](caf::error&) mutable {
      rp.deliver(job_result{shm::wire_status::service_failed, 0});
    };
    if (op == 'P') {
      request(store_, caf::infinite, kv_put_atom::value, std::move(key),
              in.substr(nul + 1))
          .then([rp, j]() mutable { rp.deliver(answer(j, 'O')); }, failed);
    } else if (op == 'G') {
      request(store_, caf::infinite, kv_get_atom::value, std::move(key))
          .then(
              [rp, j](bool found, std::string& value) mutable {
                rp.deliver(found ? answer_value(j, value) : answer(j, 'N'));
              },
              failed);
    } else {
      request(store_, caf::infinite, kv_del_atom::value, std::move(key))
          .then(
              [rp, j](bool found) mutable {
                rp.deliver(answer(j, found ? 'O' : 'N'));
              },
              failed);
    }
    return rp;
  }

  kv_store_actor store_;
};

} // namespace

// services.def's HYPERAMP_SERVICE(4, kv_store) calls this by name. Every
// call makes a new link, hence a new store; copies of the row share it.
service_entry kv_store_entry() {
  return vocab::make_actor_entry<kv_store_service>(
      "kv_store", std::make_shared<kv_store_link>());
}

} // namespace hyperamp::services
