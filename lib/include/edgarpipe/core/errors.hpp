// Error kinds every folder may raise or catch.
#pragma once

#include <stdexcept>

namespace edgarpipe {

// A usage problem the user can fix (exit status 2): a bad flag, a missing path, a bad sink URL.
struct UsageError : std::runtime_error {
  using std::runtime_error::runtime_error;
};

}  // namespace edgarpipe
