// One-line messages on standard error, filtered by verbosity and written as text or as JSON lines.
//
// Every message of every process goes through here, so `-q`, `-v` and `--log-format json` apply
// to the supervisor, its stages and the trial runs of `tune` alike. The supervisor's choice
// reaches its children through the environment (EDGARPIPE_LOG=LEVEL,FORMAT), which the stage
// executables read at start.
//
//   text:  edgarpipe: rejected a.json: offset 17: expected ',' or '}'
//   json:  {"time":"2026-12-03T11:40:00.123Z","level":"warning","program":"edgarpipe","pid":42,
//           "message":"rejected a.json: offset 17: expected ',' or '}'"}
//
// Levels: error (the command fails), warning (the run goes on without something: a rejected
// file, a retry), info (what a run does and its summary; hidden by -q), debug (shown by -v).
// On a terminal, a text message first clears the line it starts on, where a progress line may be
// drawn (progress lines never end in a newline; messages always do).
#pragma once

#include <fmt/format.h>

#include <string>
#include <string_view>

namespace edgarpipe::log {

enum class Level { kError = 0, kWarning = 1, kInfo = 2, kDebug = 3 };
enum class Format { kText, kJson };

struct Settings {
  Level verbosity = Level::kInfo;  // the least important level shown
  Format format = Format::kText;
};

// Sets this process's settings and exports them to the processes it starts.
void configure(Settings settings);
// Reads EDGARPIPE_LOG (as exported by configure); leaves the defaults when unset or malformed.
void configure_from_environment();
Settings settings() noexcept;
inline bool enabled(Level level) noexcept { return level <= settings().verbosity; }

// Removes -q/--quiet, -v/--verbose and --log-format FORMAT (or =FORMAT) from argv (before any
// "--"), applies them, and returns the new argc. Throws std::invalid_argument naming a bad format.
int take_options(int argc, char** argv);

// The program named at the start of each line ("edgarpipe", "edgarpipe fetch", "edgarpipe-writer").
void set_program(std::string_view program);

// One message; `message` must not end in a newline. `json_members`, a JSON object as nlohmann
// dumps it (`{"progress":{...}}`), adds its members to a JSON line; text lines leave them out.
void write(Level level, std::string_view message, std::string_view json_members = {});

// The text with control characters spelled \n, \t, \r or \xNN, so it stays one line (a file name
// may hold any byte but '/' and NUL). With `backslashes`, a backslash is doubled too, which makes
// the escaping reversible: the TSV of `edgarpipe rejects` (PostgreSQL's COPY text convention).
std::string escape_control(std::string_view text, bool backslashes = false);

template <typename... Args>
void error(fmt::format_string<Args...> f, Args&&... args) {
  write(Level::kError, fmt::format(f, std::forward<Args>(args)...));
}
template <typename... Args>
void warning(fmt::format_string<Args...> f, Args&&... args) {
  if (enabled(Level::kWarning)) write(Level::kWarning, fmt::format(f, std::forward<Args>(args)...));
}
template <typename... Args>
void info(fmt::format_string<Args...> f, Args&&... args) {
  if (enabled(Level::kInfo)) write(Level::kInfo, fmt::format(f, std::forward<Args>(args)...));
}
template <typename... Args>
void debug(fmt::format_string<Args...> f, Args&&... args) {
  if (enabled(Level::kDebug)) write(Level::kDebug, fmt::format(f, std::forward<Args>(args)...));
}

}  // namespace edgarpipe::log
