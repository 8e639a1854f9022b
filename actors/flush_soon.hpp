// The batching rule of the bridges and the pools, in one place.
#pragma once

#include "actors/fwd.hpp"

namespace hyperamp::actors {

/// Runs `flush` at once if nothing else waits in `self`'s mailbox (one
/// mailbox hop fewer at low load); otherwise sends `self` one flush_atom
/// (unless `scheduled` says one is on its way), so that everything already
/// in the mailbox joins the same batch. The flush_atom handler clears
/// `scheduled` before flushing. A blocked mailbox (a threaded bridge called
/// between two resumes: bridge_thread.hpp) is empty too; CAF's empty()
/// must not be asked then.
template <class Actor, class Flush>
void flush_soon(Actor* self, bool& scheduled, Flush flush) {
  if (scheduled)
    return;
  if (self->mailbox().blocked() || self->mailbox().empty()) {
    flush();
    return;
  }
  scheduled = true;
  self->send(self, flush_atom::value);
}

} // namespace hyperamp::actors
