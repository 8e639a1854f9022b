// The caller's side of a remote zone (connect_remote, actors/zone.hpp): a
// link actor that gets a session from a gateway over CAF's middleman and
// sends its calls there in batches.
//
//   call  -> staged; flushed at once if the mailbox is empty, otherwise by
//            a flush message to self, so every call already in the
//            mailbox goes in the same network message
//   flush -> (call_atom, std::vector<call_spec>) to the session, with the
//            deadline; its call_replies answer each requester
//   down  -> the session (or its connection) is gone: everything in flight
//            fails `disconnected`; reconnect with a growing pause
#include "actors/zone.hpp"

#include <algorithm>
#include <memory>
#include <set>
#include <unordered_map>
#include <utility>

#include <caf/io/middleman.hpp>
#include <caf/io/middleman_actor.hpp>
#include <caf/openssl/manager.hpp>

#include "actors/flush_soon.hpp"
#include "vocab/remote.hpp"

namespace hyperamp::actors {

namespace {

using retry_atom = caf::atom_constant<caf::atom("retry")>;

/// Where the answer of one staged request goes: its own promise (a single
/// call) or its place in a batch call.
struct batch_answers {
  caf::response_promise rp;
  call_replies replies;
  std::size_t left = 0;
};

struct reply_to {
  caf::response_promise rp;
  std::shared_ptr<batch_answers> batch;
  std::size_t index = 0;

  void answer(call_reply&& r) {
    if (!batch) {
      if (r.ok)
        rp.deliver(std::move(r.data));
      else
        rp.deliver(std::move(r.error));
      return;
    }
    batch->replies[index] = std::move(r);
    if (--batch->left == 0)
      batch->rp.deliver(std::move(batch->replies));
  }

  void fail(const caf::error& err) {
    call_reply r;
    r.error = err;
    answer(std::move(r));
  }
};

/// One network message in flight.
struct batch_record {
  std::vector<reply_to> to;
};

struct link_state {
  std::string host;
  std::uint16_t port = 0;
  remote_options opts;
  caf::io::middleman_actor mm;
  caf::actor session; ///< invalid while there is none
  session_grant grant;
  bool connecting = false;
  std::chrono::milliseconds pause{0}; ///< before the next attempt
  caf::error last_error;              ///< why the last attempt failed
  /// Waiting for the outcome of the first attempt (connect_remote).
  std::vector<caf::response_promise> waiting;
  std::uint32_t in_flight = 0; ///< requests staged or in a batch
  std::vector<call_spec> staged;
  std::vector<reply_to> staged_to;
  bool flush_scheduled = false;
  std::uint64_t next_batch = 0;
  std::unordered_map<std::uint64_t, batch_record> batches;
  static inline const char* name = "remote_link";

  std::chrono::milliseconds deadline() const {
    if (opts.deadline.count() > 0)
      return opts.deadline;
    return std::chrono::milliseconds{grant.deadline_ms} +
           std::chrono::seconds(1);
  }
};

using link_ptr = caf::stateful_actor<link_state>*;

std::string endpoint_text(const link_state& st) {
  return st.host + ":" + std::to_string(st.port);
}

/// A failure of the network message, as each request of it sees it.
caf::error network_error(caf::error err) {
  if (err == caf::sec::request_timeout)
    return caf::make_error(amp_errc::timeout);
  if (err == caf::sec::request_receiver_down)
    return caf::make_error(amp_errc::disconnected);
  return err;
}

void fail_everything(link_ptr self, const caf::error& err) {
  auto& st = self->state;
  for (auto& to : st.staged_to)
    to.fail(err);
  st.staged.clear();
  st.staged_to.clear();
  for (auto& [id, b] : st.batches)
    for (auto& to : b.to)
      to.fail(err);
  st.batches.clear();
  st.in_flight = 0;
}

void finish_batch(link_ptr self, std::uint64_t id, call_replies* replies,
                  const caf::error* err) {
  auto& st = self->state;
  auto i = st.batches.find(id);
  if (i == st.batches.end())
    return; // already failed (the connection was lost)
  auto to = std::move(i->second.to);
  st.batches.erase(i);
  st.in_flight -= static_cast<std::uint32_t>(
      std::min<std::size_t>(to.size(), st.in_flight));
  const caf::error lost =
      err != nullptr ? network_error(*err) : caf::make_error(amp_errc::corrupt);
  for (std::size_t k = 0; k < to.size(); ++k) {
    if (replies != nullptr && k < replies->size())
      to[k].answer(std::move((*replies)[k]));
    else
      to[k].fail(lost);
  }
}

void flush(link_ptr self) {
  auto& st = self->state;
  if (st.staged.empty())
    return;
  const auto id = st.next_batch++;
  st.batches[id].to = std::move(st.staged_to);
  st.staged_to.clear();
  std::vector<call_spec> calls;
  calls.swap(st.staged);
  self->request(st.session, st.deadline(), call_atom::value, std::move(calls))
      .then(
          [self, id](call_replies& replies) {
            finish_batch(self, id, &replies, nullptr);
          },
          [self, id](caf::error& err) {
            finish_batch(self, id, nullptr, &err);
          });
}

/// Stages one request, or answers it at once (down, or beyond the credit).
void stage(link_ptr self, call_spec&& c, reply_to&& to) {
  auto& st = self->state;
  if (!st.session) {
    to.fail(caf::make_error(amp_errc::disconnected));
    return;
  }
  if (st.in_flight >= st.grant.credit) {
    to.fail(caf::make_error(amp_errc::overloaded));
    return;
  }
  ++st.in_flight;
  st.staged.push_back(std::move(c));
  st.staged_to.push_back(std::move(to));
}

void flush_soon(link_ptr self) {
  actors::flush_soon(self, self->state.flush_scheduled,
                     [self] { flush(self); });
}

// -- connecting
// ------------------------------------------------------------------

void connect(link_ptr self);

void answer_waiting(link_ptr self) {
  auto& st = self->state;
  for (auto& rp : st.waiting) {
    if (st.session)
      rp.deliver(st.grant);
    else
      rp.deliver(st.last_error);
  }
  st.waiting.clear();
}

void attempt_failed(link_ptr self, const caf::error& err) {
  auto& st = self->state;
  st.connecting = false;
  // A TLS gateway and a plain caller (or the reverse, or certificates
  // the other side does not trust) end in the handshake.
  const bool handshake = err == caf::sec::disconnect_during_handshake;
  st.last_error = start_error(
      "cannot connect to the gateway at " + endpoint_text(st) + ": " +
      describe(err) +
      (handshake ? " (the connection ended in the handshake: TLS on one "
                   "side only, or a certificate the other side does not "
                   "trust?)"
                 : ""));
  answer_waiting(self);
  st.pause = std::clamp(st.pause * 2, st.opts.retry, st.opts.retry_max);
  self->delayed_send(self, st.pause, retry_atom::value);
}

void got_session(link_ptr self, caf::actor session, session_grant grant) {
  auto& st = self->state;
  st.connecting = false;
  if (!session || grant.credit == 0) {
    attempt_failed(self, caf::make_error(amp_errc::bad_request));
    return;
  }
  st.session = std::move(session);
  st.grant = std::move(grant);
  st.pause = std::chrono::milliseconds{0};
  self->monitor(st.session);
  answer_waiting(self);
}

void connect(link_ptr self) {
  auto& st = self->state;
  if (st.connecting || st.session)
    return;
  st.connecting = true;
  const auto timeout = st.opts.connect_timeout;
  self->request(st.mm, timeout, caf::connect_atom::value, st.host, st.port)
      .then(
          [self, timeout](caf::node_id&, caf::strong_actor_ptr& published,
                          std::set<std::string>&) {
            if (!published) {
              attempt_failed(self,
                             caf::make_error(amp_errc::cannot_start,
                                             std::string{"no gateway is "
                                                         "published there"}));
              return;
            }
            auto gw = caf::actor_cast<caf::actor>(published);
            self->request(gw, timeout, session_atom::value, remote_version)
                .then(
                    [self](caf::actor& session, session_grant& grant) {
                      got_session(self, std::move(session), std::move(grant));
                    },
                    [self](caf::error& err) { attempt_failed(self, err); });
          },
          [self](caf::error& err) { attempt_failed(self, err); });
}

caf::behavior link_actor(link_ptr self, std::string host, std::uint16_t port,
                         remote_options opts) {
  auto& st = self->state;
  st.host = std::move(host);
  st.port = port;
  st.opts = opts;
  st.mm = opts.tls ? self->system().openssl_manager().actor_handle()
                   : self->system().middleman().actor_handle();
  st.last_error = caf::make_error(amp_errc::disconnected);
  // Exits from this process stop the link (answering what it holds);
  // those the gateway's side might send are ignored.
  self->set_exit_handler([self](caf::exit_msg& em) {
    if (!em.source || em.source.node() != self->node())
      return;
    fail_everything(self, caf::make_error(amp_errc::shutting_down));
    self->quit(std::move(em.reason));
  });
  self->set_down_handler([self](caf::down_msg& dm) {
    auto& s = self->state;
    if (!s.session || dm.source != s.session.address())
      return;
    s.session = nullptr;
    fail_everything(self, caf::make_error(amp_errc::disconnected));
    connect(self);
  });
  self->set_default_handler(caf::drop);
  connect(self);
  return {
      [self](call_atom, std::uint32_t service_id, bytes& data) {
        reply_to to;
        to.rp = self->make_response_promise();
        stage(self, call_spec{service_id, std::move(data)}, std::move(to));
        flush_soon(self);
      },
      [self](call_atom, std::vector<call_spec>& calls) {
        auto b = std::make_shared<batch_answers>();
        b->rp = self->make_response_promise();
        if (calls.empty()) {
          b->rp.deliver(call_replies{});
          return;
        }
        b->replies.resize(calls.size());
        b->left = calls.size();
        for (std::size_t i = 0; i < calls.size(); ++i) {
          reply_to to;
          to.batch = b;
          to.index = i;
          stage(self, std::move(calls[i]), std::move(to));
        }
        flush_soon(self);
      },
      [self](flush_atom) {
        self->state.flush_scheduled = false;
        flush(self);
      },
      [self](retry_atom) { connect(self); },
      [self](caf::get_atom) -> caf::result<session_grant> {
        auto& s = self->state;
        if (s.session)
          return s.grant;
        if (s.connecting) {
          s.waiting.push_back(self->make_response_promise());
          return caf::delegated<session_grant>{};
        }
        return s.last_error;
      },
  };
}

} // namespace

void configure_network(caf::actor_system_config& cfg, const tls_files& tls) {
  cfg.load<caf::io::middleman>();
  if (tls.enabled()) {
    cfg.load<caf::openssl::manager>();
    cfg.openssl_cafile = tls.ca;
    cfg.openssl_certificate = tls.certificate;
    cfg.openssl_key = tls.key;
  }
  register_remote_types(cfg);
}

caf::expected<caf::actor> connect_remote(caf::actor_system& sys,
                                         const std::string& host,
                                         std::uint16_t port, remote_options o) {
  if (!sys.has_middleman())
    return start_error("connect_remote needs CAF's middleman (call "
                       "configure_network before making the actor system)");
  if (o.tls && !sys.has_openssl_manager())
    return start_error("a TLS connection needs libcaf_openssl (call "
                       "configure_network with the TLS files)");
  auto link = sys.spawn(link_actor, host, port, o);
  caf::scoped_actor self{sys};
  caf::expected<caf::actor> result{caf::make_error(amp_errc::disconnected)};
  self->request(link, caf::infinite, caf::get_atom::value)
      .receive([&](session_grant&) { result = link; },
               [&](caf::error& err) {
                 self->send_exit(link, caf::exit_reason::user_shutdown);
                 result = std::move(err);
               });
  return result;
}

} // namespace hyperamp::actors
