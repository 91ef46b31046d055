// `edgarpipe run`: the supervisor that lays out shared memory, starts the stage processes, restarts
// the ones that die and reports the run (docs/design/crash-recovery.md).
#pragma once

#include <signal.h>
#include <sys/types.h>

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace edgarpipe {

int run_main(int argc, char** argv);  // `edgarpipe run ...` (argv[0] is "run"); throws UsageError

// A command-line count from 1 to max; throws UsageError naming `flag` otherwise.
std::uint32_t parse_count(std::string_view flag, std::string_view value, std::uint32_t max);

// Starts `exe` with `args` (fork+exec) and returns its pid. The child gets `death_signal` when
// this process dies, kill -9 included (PR_SET_PDEATHSIG; it exits at once if that already
// happened), and runs with the signal mask `mask` (nullptr: this thread's). Throws
// std::runtime_error when fork fails. The stages (SIGKILL) and sync's run (SIGTERM) start so.
pid_t spawn_tied_to_parent(const std::string& exe, const std::vector<std::string>& args, int death_signal,
                           const sigset_t* mask = nullptr);

}  // namespace edgarpipe
