// The stage processes of one attempt, as an owner: started by fork+exec, reaped without blocking,
// and killed and reaped on every way out of the attempt (an exception included), so that no stage
// outlives the segments it maps. Internal to lib/supervisor/.
#pragma once

#include <signal.h>
#include <sys/types.h>

#include <cstdint>
#include <string>
#include <vector>

namespace edgarpipe {

class ChildGroup {
 public:
  ChildGroup() = default;
  ChildGroup(const ChildGroup&) = delete;
  ChildGroup& operator=(const ChildGroup&) = delete;
  ~ChildGroup();  // SIGKILL to every child still running, then waits for each

  // Starts `exe` with `args` and the signal mask `mask`. The child dies with this process
  // (PR_SET_PDEATHSIG: a supervisor killed with kill -9 leaves no orphans holding segments).
  // Throws std::runtime_error when fork fails.
  pid_t spawn(const std::string& exe, const std::vector<std::string>& args, const sigset_t& mask);

  struct Exit {
    pid_t pid = 0;
    int status = 0;            // as waitpid gives it
    std::uint64_t at_ns = 0;   // steady clock
    bool ok() const noexcept;  // exited with status 0
    std::string how() const;   // "killed by signal 9", "exited with status 1"
  };
  // The children that exited since the last call, without waiting.
  std::vector<Exit> reap();
  void kill_all(int signal) const noexcept;
  bool empty() const noexcept { return live_.empty(); }

 private:
  std::vector<pid_t> live_;
};

}  // namespace edgarpipe
