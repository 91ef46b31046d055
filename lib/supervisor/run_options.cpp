#include "run_options.hpp"

#include <unistd.h>

#include <fmt/format.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string_view>
#include <utility>

#include "edgarpipe/core/errors.hpp"
#include "edgarpipe/supervisor/supervisor.hpp"

namespace edgarpipe {

std::uint32_t parse_count(std::string_view flag, std::string_view value, std::uint32_t max) {
  const auto refuse = [&] {
    return UsageError(fmt::format("{} needs a number from 1 to {}, not '{}'", flag, max, value));
  };
  std::uint32_t n = 0;
  for (char c : value) {
    if (c < '0' || c > '9' || n > max) throw refuse();
    n = n * 10 + static_cast<std::uint32_t>(c - '0');
  }
  if (value.empty() || n < 1 || n > max) throw refuse();
  return n;
}

namespace {

// The arguments of `run`: `--name=value` split in two, and `--options FILE` replaced by the
// options in FILE (whitespace-separated; `#` starts a comment line), as `edgarpipe tune --write
// FILE` writes them. Each argument keeps where it came from, for the error messages.
struct Argument {
  std::string text;
  std::string origin;  // "" on the command line, else "FILE line N"
};
std::vector<Argument> expand_arguments(int argc, char** argv) {
  std::vector<Argument> args;
  const auto add = [&](const std::string& a, const std::string& origin) {
    const auto eq = a.find('=');
    if (a.rfind("--", 0) == 0 && eq != std::string::npos) {
      args.push_back({a.substr(0, eq), origin});
      args.push_back({a.substr(eq + 1), origin});
    } else {
      args.push_back({a, origin});
    }
  };
  for (int i = 2; i < argc; ++i) {
    std::string_view arg = argv[i];
    std::string file;
    if (arg == "--options") {
      if (i + 1 >= argc) throw UsageError("--options needs a file");
      file = argv[++i];
    } else if (arg.rfind("--options=", 0) == 0) {
      file = std::string(arg.substr(10));
    } else {
      add(std::string(arg), "");
      continue;
    }
    std::ifstream in(file);
    if (!in) throw UsageError(fmt::format("--options: cannot read {}", file));
    std::string line;
    for (int number = 1; std::getline(in, line); ++number) {
      const auto first = line.find_first_not_of(" \t");
      if (first != std::string::npos && line[first] == '#') continue;
      std::istringstream words(line);
      for (std::string word; words >> word;) add(word, fmt::format("{} line {}", file, number));
    }
  }
  return args;
}

RunOptions parse_run_arguments(const std::vector<Argument>& args, std::size_t& i);

}  // namespace

RunOptions parse_run_options(int argc, char** argv) {
  const std::vector<Argument> args = expand_arguments(argc, argv);
  std::size_t i = 0;
  try {
    return parse_run_arguments(args, i);
  } catch (const UsageError& e) {
    if (i < args.size() && !args[i].origin.empty())
      throw UsageError(fmt::format("{} (in {})", e.what(), args[i].origin));
    throw;
  }
}

namespace {

RunOptions parse_run_arguments(const std::vector<Argument>& args, std::size_t& i) {
  RunOptions o;
  for (i = 0; i < args.size(); ++i) {
    std::string_view arg = args[i].text;
    auto value = [&]() -> std::string_view {
      if (i + 1 >= args.size()) throw UsageError(fmt::format("{} needs a value", arg));
      return args[++i].text;
    };
    if (arg == "--sink")
      o.sink = value();
    else if (arg == "--readers")
      o.readers = parse_count(arg, value(), 64);
    else if (arg == "--parsers")
      o.parsers = parse_count(arg, value(), 64);
    else if (arg == "--writers")
      o.writers = parse_count(arg, value(), 64);
    else if (arg == "--max-file-size")
      o.max_file_mib = parse_count(arg, value(), 4096);
    else if (arg == "--batch-size")
      o.batch_kib = parse_count(arg, value(), 256 * 1024);
    else if (arg == "--metrics-file")
      o.metrics_file = value();
    else if (arg == "--summary-json")
      o.summary_json = value();
    else if (arg == "--progress") {
      o.progress = value();
      if (o.progress != "auto" && o.progress != "always" && o.progress != "never")
        throw UsageError(fmt::format("--progress takes auto, always or never, not '{}'", o.progress));
    } else if (arg == "--progress-interval") {
      o.progress_interval = parse_count(arg, value(), 3600);
    } else if (arg == "--max-rejects") {
      const std::string_view v = value();
      o.max_rejects = v == "0" ? 0 : parse_count(arg, v, 1'000'000'000);
    } else if (arg == "--retry-rejected") {
      o.retry_rejected = true;
    } else if (arg == "--prune") {
      o.prune = true;
    } else if (arg == "--max-prune-fraction") {
      const std::string v(value());
      char* end = nullptr;
      const double f = std::strtod(v.c_str(), &end);
      if (v.empty() || end != v.c_str() + v.size() || !(f >= 0 && f <= 1))
        throw UsageError(fmt::format("--max-prune-fraction takes a fraction from 0 to 1 (0.05 is 5%), not '{}'", v));
      o.max_prune_fraction = f;
    } else if (arg == "--index-memory") {
      o.index_memory_mib = parse_count(arg, value(), 1024 * 1024);
    } else if (arg == "--no-indexes") {
      o.no_indexes = true;
    } else if (arg == "--storage") {
      const std::string_view v = value();
      o.storage = parse_storage(v);
      if (!o.storage) throw UsageError(fmt::format("--storage takes row or analytic, not '{}'", v));
    } else if (arg == "--max-restarts") {
      const std::string_view v = value();
      if (v != "0" && (v.empty() || v.find_first_not_of("0123456789") != std::string_view::npos || v.size() > 3 ||
                       std::stoul(std::string(v)) > 100))
        throw UsageError(fmt::format("--max-restarts takes a number from 0 to 100, not '{}'", v));
      o.max_restarts = static_cast<std::uint32_t>(std::stoul(std::string(v)));
    } else if (arg == "--force") {
      o.force = true;
    } else if (arg == "--verify") {
      o.verify = true;
    } else if (arg == "--max-compression-ratio") {
      o.inputs.max_compression_ratio = parse_count(arg, value(), 1'000'000);
    } else if (arg == "--shard") {
      const std::string_view v = value();
      const auto refuse = [&] {
        // An unexpanded $(VAR) is a scheduler's variable its engine did not substitute.
        return UsageError(fmt::format("--shard takes I/N with 0 <= I < N <= 100000, e.g. 0/4, not '{}'{}", v,
                                      v.find('$') != std::string_view::npos ? " (a variable left unexpanded)" : ""));
      };
      const auto slash = v.find('/');
      if (slash == std::string_view::npos) throw refuse();
      const std::string_view index = v.substr(0, slash);
      try {
        o.inputs.shard_count = parse_count("--shard N", v.substr(slash + 1), 100000);
        o.inputs.shard_index = index == "0" ? 0 : parse_count("--shard I", index, 100000);
      } catch (const UsageError&) {
        throw refuse();
      }
      if (o.inputs.shard_index >= o.inputs.shard_count) throw refuse();
    } else if (arg == "--dataset") {
      const std::string_view d = value();
      if (d == "submissions")
        o.dataset = Dataset::kSubmissions;
      else if (d == "companyfacts")
        o.dataset = Dataset::kCompanyfacts;
      else
        throw UsageError("--dataset takes submissions or companyfacts");
    } else if (arg.size() > 1 && arg[0] == '-') {
      throw UsageError(fmt::format("unknown option {}", arg));
    } else {
      o.paths.emplace_back(arg);
    }
  }
  if (o.paths.empty()) throw UsageError("run needs at least one PATH");
  // Output files are checked before any work: a typo must not surface only after an hour's load.
  for (const auto& [flag, path] : {std::pair<const char*, const std::string&>{"--summary-json", o.summary_json},
                                   {"--metrics-file", o.metrics_file}}) {
    if (path.empty() || (path == "-" && std::string_view(flag) == "--summary-json")) continue;
    const std::filesystem::path parent = std::filesystem::absolute(path).parent_path();
    if (!std::filesystem::is_directory(parent) || ::access(parent.c_str(), W_OK) != 0)
      throw UsageError(
          fmt::format("{} {}: cannot write there ({} is not a writable folder)", flag, path, parent.string()));
  }
  // Pruning deletes what the inputs do not name: only sound when they are the whole snapshot.
  if (o.prune && o.inputs.shard_count > 1) throw UsageError("--prune needs the whole snapshot, not a --shard");
  if (o.prune && o.retry_rejected) throw UsageError("--prune cannot go with --retry-rejected");
  if (o.readers + o.parsers + o.writers > 250) throw UsageError("at most 250 stage processes");
  return o;
}

}  // namespace

// Pool sizes, per process, so they scale with the stage counts (a 16-core box running
// 2 readers, 12 parsers and 2 writers needs ~0.9 GiB of /dev/shm; the 2-core default ~0.4 GiB).
// Raw: most submissions files are a few KB, companyfacts a few MB, the largest tens of MB; one
// chunk of --max-file-size carries the rare giant whole. Batches: --batch-size chunks, enough to
// keep every writer fed (8 + 4 per writer).
std::vector<ipc::SizeClass> raw_classes(std::uint64_t max_file_bytes) {
  const std::uint64_t top = ipc::align_up(max_file_bytes, 4096);
  std::vector<ipc::SizeClass> classes;
  for (ipc::SizeClass c : {ipc::SizeClass{256 * 1024, 32}, ipc::SizeClass{4 * kMiB, 8}, ipc::SizeClass{32 * kMiB, 2}})
    if (c.chunk_bytes < top) classes.push_back(c);
  classes.push_back({top, 1});
  return classes;
}
std::vector<ipc::SizeClass> batch_classes(std::uint64_t chunk_bytes, std::uint32_t writers) {
  return {{ipc::align_up(chunk_bytes, 4096), 8 + 4 * writers}};
}

std::uint32_t chunk_total(const std::vector<ipc::SizeClass>& classes) {
  std::uint32_t n = 0;
  for (const auto& c : classes) n += c.count;
  return n;
}

}  // namespace edgarpipe
