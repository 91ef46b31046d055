// One-line messages: see log.hpp.
#include "edgarpipe/core/log.hpp"

#include <nlohmann/json.hpp>

#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <ctime>
#include <stdexcept>

namespace edgarpipe::log {

namespace {

Settings g_settings;
std::string g_program = "edgarpipe";

constexpr const char* kLevelNames[] = {"error", "warning", "info", "debug"};

std::string iso_now() {
  const auto now = std::chrono::system_clock::now();
  const std::time_t secs = std::chrono::system_clock::to_time_t(now);
  const auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(now.time_since_epoch()).count() % 1000;
  std::tm tm{};
  gmtime_r(&secs, &tm);
  char buf[32];
  std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%S", &tm);
  return fmt::format("{}.{:03}Z", buf, ms);
}

}  // namespace

void configure(Settings settings) {
  g_settings = settings;
  const std::string value = fmt::format("{},{}", kLevelNames[static_cast<int>(settings.verbosity)],
                                        settings.format == Format::kJson ? "json" : "text");
  ::setenv("EDGARPIPE_LOG", value.c_str(), 1);
}

void configure_from_environment() {
  const char* env = std::getenv("EDGARPIPE_LOG");
  if (env == nullptr) return;
  const std::string_view v = env;
  const auto comma = v.find(',');
  if (comma == std::string_view::npos) return;
  for (int l = 0; l < 4; ++l)
    if (v.substr(0, comma) == kLevelNames[l]) g_settings.verbosity = static_cast<Level>(l);
  g_settings.format = v.substr(comma + 1) == "json" ? Format::kJson : Format::kText;
}

Settings settings() noexcept { return g_settings; }

void set_program(std::string_view program) { g_program = program; }

int take_options(int argc, char** argv) {
  Settings s = g_settings;
  bool changed = false;
  int out = 1;
  bool rest = false;
  for (int i = 1; i < argc; ++i) {
    const std::string_view arg = argv[i];
    if (arg == "--") rest = true;
    std::string_view format;
    if (rest) {
      argv[out++] = argv[i];
      continue;
    }
    if (arg == "-q" || arg == "--quiet") {
      s.verbosity = Level::kWarning;
    } else if (arg == "-v" || arg == "--verbose") {
      s.verbosity = Level::kDebug;
    } else if (arg == "--log-format" || arg.rfind("--log-format=", 0) == 0) {
      if (arg == "--log-format") {
        if (i + 1 >= argc) throw std::invalid_argument("--log-format needs a value: text or json");
        format = argv[++i];
      } else {
        format = arg.substr(13);
      }
      if (format == "text")
        s.format = Format::kText;
      else if (format == "json")
        s.format = Format::kJson;
      else
        throw std::invalid_argument(fmt::format("--log-format takes text or json, not '{}'", format));
    } else {
      argv[out++] = argv[i];
      continue;
    }
    changed = true;
  }
  argv[out] = nullptr;
  if (changed) configure(s);
  return out;
}

std::string escape_control(std::string_view text, bool backslashes) {
  std::string out;
  out.reserve(text.size());
  for (char c : text) {
    if (c == '\n')
      out += "\\n";
    else if (c == '\t')
      out += "\\t";
    else if (c == '\r')
      out += "\\r";
    else if (c == '\\' && backslashes)
      out += "\\\\";
    else if (static_cast<unsigned char>(c) < 0x20 || c == '\x7f')
      out += fmt::format("\\x{:02x}", static_cast<unsigned char>(c));
    else
      out += c;
  }
  return out;
}

void write(Level level, std::string_view message, std::string_view json_members) {
  std::string line;
  if (g_settings.format == Format::kJson) {
    nlohmann::ordered_json j = {{"time", iso_now()},
                                {"level", kLevelNames[static_cast<int>(level)]},
                                {"program", g_program},
                                {"pid", ::getpid()},
                                {"message", message}};
    // A message may quote bytes of a bad input: invalid UTF-8 becomes U+FFFD, the line stays JSON.
    line = j.dump(-1, ' ', false, nlohmann::ordered_json::error_handler_t::replace);
    if (json_members.size() > 2) {  // `{"a":1}`: its members join the line's object
      line.back() = ',';
      line.append(json_members.substr(1));
    }
  } else {
    static const bool terminal = ::isatty(STDERR_FILENO) != 0;
    line = fmt::format("{}{}: {}", terminal ? "\r\033[K" : "", g_program, escape_control(message));
  }
  line += '\n';
  // One write per line: lines of concurrent stage processes never interleave mid-line.
  std::fwrite(line.data(), 1, line.size(), stderr);
  std::fflush(stderr);
}

}  // namespace edgarpipe::log
