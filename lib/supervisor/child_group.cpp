#include "child_group.hpp"

#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <fmt/format.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstring>
#include <stdexcept>

#include "edgarpipe/supervisor/supervisor.hpp"

namespace edgarpipe {

ChildGroup::~ChildGroup() {
  kill_all(SIGKILL);
  for (const pid_t pid : live_)
    while (::waitpid(pid, nullptr, 0) < 0 && errno == EINTR) {
    }
}

pid_t spawn_tied_to_parent(const std::string& exe, const std::vector<std::string>& args, int death_signal,
                           const sigset_t* mask) {
  std::vector<std::string> argv_text{exe};
  argv_text.insert(argv_text.end(), args.begin(), args.end());
  std::vector<char*> argv;
  argv.reserve(argv_text.size() + 1);
  for (std::string& a : argv_text) argv.push_back(a.data());
  argv.push_back(nullptr);
  const pid_t parent = ::getpid();
  const pid_t pid = ::fork();
  if (pid < 0) throw std::runtime_error(fmt::format("cannot start {}: fork failed: {}", exe, std::strerror(errno)));
  if (pid == 0) {
    ::prctl(PR_SET_PDEATHSIG, death_signal);
    if (::getppid() != parent) ::_exit(1);  // the parent died before the line above took effect
    if (mask != nullptr) sigprocmask(SIG_SETMASK, mask, nullptr);
    ::execv(exe.c_str(), argv.data());
    ::_exit(127);
  }
  return pid;
}

pid_t ChildGroup::spawn(const std::string& exe, const std::vector<std::string>& args, const sigset_t& mask) {
  const pid_t pid = spawn_tied_to_parent(exe, args, SIGKILL, &mask);
  live_.push_back(pid);
  return pid;
}

bool ChildGroup::Exit::ok() const noexcept { return WIFEXITED(status) && WEXITSTATUS(status) == 0; }

std::string ChildGroup::Exit::how() const {
  return WIFSIGNALED(status) ? fmt::format("killed by signal {}", WTERMSIG(status))
                             : fmt::format("exited with status {}", WEXITSTATUS(status));
}

std::vector<ChildGroup::Exit> ChildGroup::reap() {
  std::vector<Exit> exits;
  for (auto it = live_.begin(); it != live_.end();) {
    int status = 0;
    if (::waitpid(*it, &status, WNOHANG) != *it) {
      ++it;
      continue;
    }
    const auto now = std::chrono::steady_clock::now().time_since_epoch();
    exits.push_back({*it, status, static_cast<std::uint64_t>(std::chrono::nanoseconds(now).count())});
    it = live_.erase(it);
  }
  return exits;
}

void ChildGroup::kill_all(int signal) const noexcept {
  for (const pid_t pid : live_) ::kill(pid, signal);
}

}  // namespace edgarpipe
