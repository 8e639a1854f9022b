// The actor layer speaks the vocabulary of vocab/ (messages, errors, the
// service interface) under its own namespace too.
#pragma once

#include "vocab/errors.hpp"
#include "vocab/messages.hpp"
#include "vocab/service.hpp"

namespace hyperamp::actors {

using namespace hyperamp::vocab;

} // namespace hyperamp::actors
