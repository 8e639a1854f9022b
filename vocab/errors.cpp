#include "vocab/errors.hpp"

#include <caf/actor_system_config.hpp>
#include <caf/message.hpp>

namespace hyperamp::vocab {

std::string to_string(amp_errc x) {
  switch (x) {
  case amp_errc::none:
    return "none";
  case amp_errc::overloaded:
    return "overloaded";
  case amp_errc::timeout:
    return "timeout";
  case amp_errc::peer_down:
    return "peer_down";
  case amp_errc::unknown_service:
    return "unknown_service";
  case amp_errc::bad_request:
    return "bad_request";
  case amp_errc::service_failed:
    return "service_failed";
  case amp_errc::aborted:
    return "aborted";
  case amp_errc::corrupt:
    return "corrupt";
  case amp_errc::too_large:
    return "too_large";
  case amp_errc::shutting_down:
    return "shutting_down";
  case amp_errc::cannot_start:
    return "cannot_start";
  case amp_errc::replaced:
    return "replaced";
  case amp_errc::not_allowed:
    return "not_allowed";
  case amp_errc::disconnected:
    return "disconnected";
  }
  return "unknown";
}

void register_errors(caf::actor_system_config& cfg) {
  cfg.add_error_category(
      caf::atom("hyperamp"),
      [](std::uint8_t x, caf::atom_value, const caf::message&) {
        return "hyperamp: " + to_string(static_cast<amp_errc>(x));
      });
}

caf::error start_error(std::string why) {
  return caf::make_error(amp_errc::cannot_start, std::move(why));
}

std::string describe(const caf::error& e) {
  if (!e) // category() would dereference null
    return "none";
  if (e == caf::sec::request_receiver_down)
    return "bridge_down: the zone's bridge has stopped (a signal, or its "
           "place in the region was given to another zone)";
  if (e.category() != caf::atom("hyperamp"))
    return caf::to_string(e);
  // A start failure carries its own sentence (region, slot, device).
  const auto& ctx = e.context();
  if (ctx.size() == 1 && ctx.match_element<std::string>(0))
    return ctx.get_as<std::string>(0);
  return to_string(static_cast<amp_errc>(e.code()));
}

} // namespace hyperamp::vocab
