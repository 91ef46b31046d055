// `edgarpipe run`: the supervisor that lays out shared memory, starts the stage processes, restarts
// the ones that die and reports the run (docs/design/crash-recovery.md).
#pragma once

#include <cstdint>
#include <string_view>

namespace edgarpipe {

int run_main(int argc, char** argv);  // `edgarpipe run ...` (argv[0] is "run"); throws UsageError

// A command-line count from 1 to max; throws UsageError naming `flag` otherwise.
std::uint32_t parse_count(std::string_view flag, std::string_view value, std::uint32_t max);

}  // namespace edgarpipe
