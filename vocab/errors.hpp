// Errors a hyperamp request can end with, as caf::error (category
// "hyperamp"). Register the renderer with add_error_category (see
// register_errors) so actor_system::render prints the names.
#pragma once

#include <cstdint>
#include <string>

#include <caf/error.hpp>
#include <caf/make_message.hpp>
#include <caf/message.hpp>

namespace hyperamp::vocab {

enum class amp_errc : std::uint8_t {
  none = 0,
  overloaded = 1,      ///< queue, payload space and pending list exhausted
  timeout = 2,         ///< no completion before the request's deadline
  peer_down = 3,       ///< the other zone stopped beating
  unknown_service = 4, ///< no service registered under this id
  bad_request = 5,     ///< the service found the descriptor invalid
  service_failed = 6,  ///< the service (or its worker) failed
  aborted = 7,         ///< a restarted service dropped the request
  corrupt = 8,         ///< the completion failed validation
  too_large = 9,       ///< payload bigger than the client's partition
  shutting_down = 10,  ///< the bridge is stopping
  cannot_start = 11,   ///< a zone could not start; the context says why
  replaced = 12,       ///< another zone was given this zone's place
  not_allowed = 13,    ///< a gateway does not serve this service id remotely
  disconnected = 14,   ///< the connection to the gateway is lost or refused
};

/// A cannot_start error whose describe() is `why`.
caf::error start_error(std::string why);

std::string to_string(amp_errc x);

} // namespace hyperamp::vocab

namespace caf {
class actor_system_config;
} // namespace caf

namespace hyperamp::vocab {

/// Lets actor_system::render print hyperamp errors by name. (CAF 0.17.6's
/// add_error_category<T> does not compile: this gives the renderer.)
void register_errors(caf::actor_system_config& cfg);

} // namespace hyperamp::vocab

CAF_ERROR_CODE_ENUM(hyperamp::vocab::amp_errc, "hyperamp")

namespace hyperamp::vocab {

/// Renders any error of a call (hyperamp, CAF system errors) as text.
std::string describe(const caf::error& e);

/// True if `e` is the hyperamp error `code`. (CAF 0.17's category() and
/// code() dereference null on an empty error: test it first.)
inline bool is(const caf::error& e, amp_errc code) {
  return e && e.category() == caf::atom("hyperamp") &&
         e.code() == static_cast<std::uint8_t>(code);
}

} // namespace hyperamp::vocab
