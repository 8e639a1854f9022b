#include "actors/gateway.hpp"

#include <algorithm>
#include <atomic>
#include <cstdio>
#include <memory>
#include <set>
#include <utility>

#include <caf/io/middleman.hpp>
#include <caf/io/middleman_actor.hpp>
#include <caf/io/publish.hpp>
#include <caf/openssl/manager.hpp>
#include <caf/openssl/publish.hpp>

namespace hyperamp::actors {

namespace {

/// What the actors of one gateway share: its settings, the bridge and the
/// counters. Sessions outlive a gateway actor that is replaced.
struct gateway_shared {
  gateway_shared(gateway_settings s, caf::actor b)
      : settings(std::move(s)), bridge(std::move(b)) {
    auto& ids = settings.allowed;
    std::sort(ids.begin(), ids.end());
    ids.erase(std::unique(ids.begin(), ids.end()), ids.end());
  }

  gateway_settings settings;
  caf::actor bridge;
  std::atomic<std::uint64_t> live{0};
  std::atomic<std::uint64_t> opened{0};
  std::atomic<std::uint64_t> refused{0};
  std::atomic<std::uint64_t> closed{0};
  std::atomic<std::uint64_t> requests{0};
  std::atomic<std::uint64_t> not_allowed{0};
  std::atomic<std::uint64_t> overloaded{0};
  std::atomic<std::uint64_t> republished{0};

  bool allows(std::uint32_t service_id) const {
    const auto& ids = settings.allowed;
    return ids.empty() ||
           std::binary_search(ids.begin(), ids.end(), service_id);
  }

  /// Why the gateway refuses one request itself, or amp_errc::none.
  amp_errc check(std::uint32_t service_id, std::size_t size) const {
    if (!allows(service_id))
      return amp_errc::not_allowed;
    if (size > settings.max_message)
      return amp_errc::too_large;
    return amp_errc::none;
  }

  session_grant grant() const {
    session_grant g;
    g.version = remote_version;
    g.credit = settings.max_in_flight;
    g.deadline_ms = static_cast<std::uint32_t>(settings.deadline.count());
    g.max_message = settings.max_message;
    g.allowed = settings.allowed;
    return g;
  }

  /// How long a session waits for the bridge: the bridge fails a request
  /// with `timeout` after the deadline; this only guards against a bridge
  /// that never answers.
  std::chrono::milliseconds patience() const { return 2 * settings.deadline; }

  gateway_stats stats() const {
    gateway_stats s;
    s.sessions_opened = opened;
    s.sessions_refused = refused;
    s.sessions_closed = closed;
    s.sessions_live = live;
    s.requests = requests;
    s.not_allowed = not_allowed;
    s.overloaded = overloaded;
    s.republished = republished;
    return s;
  }
};

using shared_ptr = std::shared_ptr<gateway_shared>;

bool from_here(const caf::local_actor* self,
               const caf::strong_actor_ptr& sender) {
  return sender != nullptr && sender->node() == self->node();
}

/// Exit messages are ignored: anyone connected can send one, with any
/// source it likes (CAF's anon_send_exit even names the receiver itself as
/// the source). `kill` cannot be trapped: CAF ends the actor before this
/// handler is asked, so the keeper ends a gateway with `kill`, and sessions
/// end by themselves (their caller or the bridge gone).
void ignore_exits(caf::scheduled_actor* self) {
  self->set_exit_handler([](caf::exit_msg&) {});
}

/// A failure of a request to the bridge, as the caller sees it.
caf::error bridge_error(caf::error err) {
  if (err == caf::sec::request_timeout)
    return caf::make_error(amp_errc::timeout);
  if (err == caf::sec::request_receiver_down)
    return caf::make_error(amp_errc::shutting_down);
  return err;
}

// -- sessions
// ------------------------------------------------------------------

struct session_state {
  shared_ptr shared;
  caf::actor caller; ///< the remote caller (a proxy); reset when gone
  caf::node_id caller_node;
  std::uint32_t in_flight = 0; ///< requests in the bridge
  bool closing = false;        ///< the caller or the bridge is gone
  static inline const char* name = "gateway_session";
};

using session_ptr = caf::stateful_actor<session_state>*;

void end_if_done(session_ptr self) {
  if (self->state.closing && self->state.in_flight == 0)
    self->quit();
}

/// Why a request of this sender cannot be taken at all, or amp_errc::none.
/// (Ask before make_response_promise: it takes the sender away.)
amp_errc refusal(session_ptr self) {
  const auto& sender = self->current_sender();
  if (sender == nullptr || sender->node() != self->state.caller_node)
    return amp_errc::not_allowed; // someone else's session
  if (self->state.closing)
    return amp_errc::shutting_down;
  return amp_errc::none;
}

std::uint32_t room(session_ptr self) {
  const auto credit = self->state.shared->settings.max_in_flight;
  return credit - std::min(self->state.in_flight, credit);
}

/// The answers of a batch the session answered in part itself: the
/// refusals, and where each forwarded request's answer goes.
struct partial_batch {
  call_replies out;
  std::vector<std::size_t> where;
};

void forward_batch(session_ptr self, std::vector<call_spec> calls,
                   caf::typed_response_promise<call_replies> rp,
                   std::shared_ptr<partial_batch> part) {
  auto& sh = *self->state.shared;
  const auto n = static_cast<std::uint32_t>(calls.size());
  self->state.in_flight += n;
  sh.requests += n;
  self->request(sh.bridge, sh.patience(), call_atom::value, std::move(calls))
      .then(
          [self, rp, part, n](call_replies& got) mutable {
            self->state.in_flight -= n;
            if (!part) {
              rp.deliver(std::move(got));
            } else {
              for (std::size_t j = 0; j < part->where.size(); ++j) {
                auto& r = part->out[part->where[j]];
                if (j < got.size())
                  r = std::move(got[j]);
                else
                  r.error = caf::make_error(amp_errc::corrupt);
              }
              rp.deliver(std::move(part->out));
            }
            end_if_done(self);
          },
          [self, rp, part, n](caf::error& err) mutable {
            self->state.in_flight -= n;
            if (!part) {
              rp.deliver(bridge_error(std::move(err)));
            } else {
              for (auto i : part->where)
                part->out[i].error = bridge_error(err);
              rp.deliver(std::move(part->out));
            }
            end_if_done(self);
          });
}

void on_batch(session_ptr self, std::vector<call_spec>& calls) {
  const auto why = refusal(self);
  auto rp = self->make_response_promise<call_replies>();
  auto& sh = *self->state.shared;
  const std::size_t n = calls.size();
  if (why != amp_errc::none) {
    call_replies out(n);
    for (auto& r : out)
      r.error = caf::make_error(why);
    rp.deliver(std::move(out));
    return;
  }
  if (n == 0) {
    rp.deliver(call_replies{});
    return;
  }
  const std::size_t free = room(self);
  const bool all =
      n <= free &&
      std::all_of(calls.begin(), calls.end(), [&](const call_spec& c) {
        return sh.check(c.service_id, c.data.size()) == amp_errc::none;
      });
  if (all) { // the common case: the batch as it came
    forward_batch(self, std::move(calls), std::move(rp), nullptr);
    return;
  }
  auto part = std::make_shared<partial_batch>();
  part->out.resize(n);
  std::vector<call_spec> fwd;
  for (std::size_t i = 0; i < n; ++i) {
    const auto refused = sh.check(calls[i].service_id, calls[i].data.size());
    if (refused != amp_errc::none) {
      sh.not_allowed += refused == amp_errc::not_allowed;
      part->out[i].error = caf::make_error(refused);
    } else if (fwd.size() >= free) {
      ++sh.overloaded;
      part->out[i].error = caf::make_error(amp_errc::overloaded);
    } else {
      part->where.push_back(i);
      fwd.push_back(std::move(calls[i]));
    }
  }
  if (fwd.empty()) {
    rp.deliver(std::move(part->out));
    return;
  }
  forward_batch(self, std::move(fwd), std::move(rp), std::move(part));
}

void on_call(session_ptr self, std::uint32_t service_id, bytes& data) {
  auto why = refusal(self);
  auto rp = self->make_response_promise<bytes>();
  auto& sh = *self->state.shared;
  if (why == amp_errc::none) {
    why = sh.check(service_id, data.size());
    sh.not_allowed += why == amp_errc::not_allowed;
  }
  if (why == amp_errc::none && room(self) == 0) {
    ++sh.overloaded;
    why = amp_errc::overloaded;
  }
  if (why != amp_errc::none) {
    rp.deliver(caf::make_error(why));
    return;
  }
  ++self->state.in_flight;
  ++sh.requests;
  self->request(sh.bridge, sh.patience(), call_atom::value, service_id,
                std::move(data))
      .then(
          [self, rp](bytes& reply) mutable {
            --self->state.in_flight;
            rp.deliver(std::move(reply));
            end_if_done(self);
          },
          [self, rp](caf::error& err) mutable {
            --self->state.in_flight;
            rp.deliver(bridge_error(std::move(err)));
            end_if_done(self);
          });
}

caf::behavior session_actor(session_ptr self, shared_ptr sh,
                            caf::actor caller) {
  auto& st = self->state;
  st.shared = sh;
  st.caller_node = caller.node();
  st.caller = std::move(caller);
  self->monitor(st.caller);
  self->monitor(sh->bridge);
  ignore_exits(self);
  self->set_default_handler(caf::drop);
  // The caller's connection closed (or its actor ended), or the bridge
  // ended: no new calls; the session ends once its requests are answered.
  self->set_down_handler([self](caf::down_msg& dm) {
    auto& s = self->state;
    if (s.caller && dm.source == s.caller.address())
      s.caller = nullptr;
    s.closing = true;
    end_if_done(self);
  });
  self->attach_functor([sh] {
    --sh->live;
    ++sh->closed;
  });
  return {
      [self](call_atom, std::vector<call_spec>& calls) {
        on_batch(self, calls);
      },
      [self](call_atom, std::uint32_t service_id, bytes& data) {
        on_call(self, service_id, data);
      },
  };
}

// -- the published gateway
// -------------------------------------------------------

struct gateway_state {
  shared_ptr shared;
  static inline const char* name = "gateway";
};

using gateway_ptr = caf::stateful_actor<gateway_state>*;

caf::result<caf::actor, session_grant> open_session(gateway_ptr self,
                                                    std::uint32_t version) {
  auto& sh = *self->state.shared;
  const auto& sender = self->current_sender();
  if (sender == nullptr)
    return caf::make_error(amp_errc::bad_request,
                           std::string{"an anonymous caller gets no session"});
  if (version != remote_version)
    return caf::make_error(
        amp_errc::bad_request,
        "remote protocol version " + std::to_string(version) +
            "; this gateway speaks version " + std::to_string(remote_version));
  // One connection more, unless that is beyond the limit.
  auto live = sh.live.load();
  do {
    if (live >= sh.settings.max_connections) {
      ++sh.refused;
      return caf::make_error(amp_errc::overloaded);
    }
  } while (!sh.live.compare_exchange_weak(live, live + 1));
  ++sh.opened;
  auto session = self->spawn(session_actor, self->state.shared,
                             caf::actor_cast<caf::actor>(sender));
  return {std::move(session), sh.grant()};
}

caf::behavior gateway_actor(gateway_ptr self, shared_ptr sh) {
  self->state.shared = std::move(sh);
  ignore_exits(self);
  self->set_default_handler(caf::drop);
  return {
      [self](session_atom, std::uint32_t version) {
        return open_session(self, version);
      },
      [self](stats_atom) -> caf::result<gateway_stats> {
        if (!from_here(self, self->current_sender()))
          return caf::sec::unexpected_message;
        return self->state.shared->stats();
      },
  };
}

// -- the keeper
// ----------------------------------------------------------------

struct keeper_state {
  shared_ptr shared;
  caf::actor gateway;
  std::uint16_t port = 0;
  bool stopping = false;
  static inline const char* name = "gateway_keeper";
};

using keeper_ptr = caf::stateful_actor<keeper_state>*;

caf::io::middleman_actor middleman_of(caf::actor_system& sys, bool tls) {
  return tls ? sys.openssl_manager().actor_handle()
             : sys.middleman().actor_handle();
}

/// The published gateway died (a remote `kill`): a new one on the same
/// port. Sessions are not affected.
void republish(keeper_ptr self) {
  auto& st = self->state;
  ++st.shared->republished;
  st.gateway = self->spawn(gateway_actor, st.shared);
  self->monitor(st.gateway);
  const auto& s = st.shared->settings;
  auto mm = middleman_of(self->system(), s.tls);
  auto whom = caf::actor_cast<caf::strong_actor_ptr>(st.gateway);
  auto publish = [self, mm, whom, bind = s.bind] {
    self->request(mm, caf::infinite, caf::publish_atom::value, self->state.port,
                  whom, std::set<std::string>{}, bind, true)
        .then([](std::uint16_t) {},
              [self](caf::error& err) {
                std::fprintf(stderr,
                             "hyperamp: gateway: cannot publish again on "
                             "port %u: %s\n",
                             self->state.port, caf::to_string(err).c_str());
              });
  };
  // Close the dead gateway's port first, then publish on it again.
  self->request(mm, caf::infinite, caf::close_atom::value, st.port)
      .then([publish]() { publish(); }, [publish](caf::error&) { publish(); });
}

void stop_keeper(keeper_ptr self, caf::error reason) {
  auto& st = self->state;
  st.stopping = true;
  if (st.gateway) // it ignores every other exit message
    self->send_exit(st.gateway, caf::exit_reason::kill);
  st.gateway = nullptr;
  // Closes the listening socket; established connections stay until their
  // sessions end.
  self->send(middleman_of(self->system(), st.shared->settings.tls),
             caf::close_atom::value, st.port);
  self->quit(std::move(reason));
}

caf::behavior keeper_actor(keeper_ptr self, shared_ptr sh, caf::actor gw,
                           std::uint16_t port) {
  auto& st = self->state;
  st.shared = std::move(sh);
  st.gateway = std::move(gw);
  st.port = port;
  self->monitor(st.gateway);
  self->monitor(st.shared->bridge);
  self->set_exit_handler(
      [self](caf::exit_msg& em) { stop_keeper(self, std::move(em.reason)); });
  self->set_down_handler([self](caf::down_msg& dm) {
    auto& s = self->state;
    if (s.stopping)
      return;
    if (dm.source == s.shared->bridge.address())
      stop_keeper(self, caf::exit_reason::normal);
    else if (s.gateway && dm.source == s.gateway.address())
      republish(self);
  });
  return {
      [self](stats_atom) { return self->state.shared->stats(); },
  };
}

} // namespace

caf::actor spawn_gateway_actor(caf::actor_system& sys, caf::actor bridge,
                               gateway_settings s) {
  return sys.spawn(gateway_actor, std::make_shared<gateway_shared>(
                                      std::move(s), std::move(bridge)));
}

caf::expected<gateway> start_gateway(caf::actor_system& sys, caf::actor bridge,
                                     gateway_settings s) {
  if (!sys.has_middleman())
    return start_error("the gateway needs CAF's middleman (load "
                       "caf::io::middleman before making the actor system)");
  if (s.tls && !sys.has_openssl_manager())
    return start_error("a TLS gateway needs libcaf_openssl (load "
                       "caf::openssl::manager before making the actor system)");
  auto sh = std::make_shared<gateway_shared>(std::move(s), std::move(bridge));
  const auto& set = sh->settings;
  auto gw = sys.spawn(gateway_actor, sh);
  const char* in = set.bind.empty() ? nullptr : set.bind.c_str();
  auto port = set.tls ? caf::openssl::publish(gw, set.port, in, true)
                      : caf::io::publish(gw, set.port, in, true);
  if (!port) {
    caf::anon_send_exit(gw, caf::exit_reason::kill);
    return start_error(
        "cannot listen on " + (set.bind.empty() ? std::string{"*"} : set.bind) +
        ":" + std::to_string(set.port) + ": " + sys.render(port.error()));
  }
  gateway g;
  g.port = *port;
  g.keeper = sys.spawn(keeper_actor, sh, std::move(gw), *port);
  return g;
}

} // namespace hyperamp::actors
