// Shared by the integration tests: a temporary directory, and running build/bin/edgarpipe as a
// separate process with its exit status and combined output.
#pragma once

#include <stdlib.h>
#include <sys/wait.h>

#include <catch2/catch.hpp>
#include <cstdio>
#include <filesystem>
#include <string>

namespace edgarpipe::test {

inline const std::string kData = EDGARPIPE_TEST_DATA_DIR;
inline const std::string kBin = EDGARPIPE_BIN_DIR;

struct TempDir {
  TempDir() {
    std::string tmpl = (std::filesystem::temp_directory_path() / "edgarpipe-test-XXXXXX").string();
    path = ::mkdtemp(tmpl.data());
  }
  ~TempDir() { std::filesystem::remove_all(path); }
  std::string operator/(const std::string& name) const { return (path / name).string(); }
  std::filesystem::path path;
};

struct Result {
  int exit_code = -1;
  std::string output;  // stdout and stderr
};

// Runs a shell command line; its stdout and stderr together.
inline Result run_shell(const std::string& command_line) {
  const std::string command = command_line + " 2>&1";
  Result r;
  FILE* pipe = ::popen(command.c_str(), "r");
  REQUIRE(pipe);
  char buf[4096];
  std::size_t n;
  while ((n = std::fread(buf, 1, sizeof buf, pipe)) > 0) r.output.append(buf, n);
  const int status = ::pclose(pipe);
  r.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
  return r;
}

// Runs `edgarpipe ARGS` (through the shell, so ARGS may quote), with ENV assignments before it.
// Its stderr is a pipe, not a terminal, so no progress line mixes into the output. A run gets
// --max-restarts 0 unless ARGS set it: a stage that crashes fails its test instead of being
// restarted unseen (tests of restarts set it and check how many there were).
inline Result run(const std::string& args, const std::string& env = "") {
  const bool restarts_unset = args.rfind("run ", 0) == 0 && args.find("--max-restarts") == std::string::npos;
  return run_shell(env + (env.empty() ? "" : " ") + kBin + "/edgarpipe " + args +
                   (restarts_unset ? " --max-restarts 0" : ""));
}

}  // namespace edgarpipe::test
