// The summary of a run: what it printed at the end, and what --summary-json writes and `tune`
// reads back. Internal to lib/supervisor/.
#pragma once

#include <sys/types.h>

#include <nlohmann/json.hpp>

#include <cstdint>
#include <map>
#include <string>
#include <utility>
#include <vector>

#include "edgarpipe/core/tables.hpp"
#include "edgarpipe/stages/pipeline_layout.hpp"

namespace edgarpipe {

struct StageProcesses {
  Role role;
  std::vector<pid_t> pids;
  // Per process, in pid order (analyse_stages): its busy share, and the seconds it slept waiting
  // for input and for room downstream. A stage whose processes differ widely is being fed or
  // drained unevenly, which the stage's average hides.
  std::vector<double> busy, wait_input_s, wait_output_s;
};

struct RunSummary {
  std::int64_t run_id = 0;
  std::string status;
  std::string sink;
  std::uint64_t files_seen = 0, files_loaded = 0, files_skipped = 0, files_rejected = 0, bytes = 0, unknown_columns = 0;
  std::uint64_t files_duplicate = 0;  // copies of a key given again with the same content (loaded once)
  std::uint64_t rows[kTableCount] = {};
  double seconds = 0;
  std::vector<StageProcesses> stages;
  std::string failure;
  // Per stage: the share of the run each process spent working (not asleep waiting for input or
  // for room downstream), averaged over the stage's processes.
  std::map<std::string, double> busy;
  std::string bottleneck, suggestion;
  std::vector<std::string> restarts;  // why the stages were restarted, one entry per restart
  std::uint64_t filers_pruned = 0;    // --prune
  double index_seconds = 0;           // building the secondary indexes (0: not this run)
  std::uint64_t indexes_built = 0;
  std::vector<std::pair<Dataset, std::int64_t>> pruned;  // the first kPrunedListed of them

  std::uint64_t rows_total() const {
    std::uint64_t n = 0;
    for (auto r : rows) n += r;
    return n;
  }

  // The summary as text lines, the first a one-line verdict. With --log-format json, one JSON
  // line with that verdict as its message and the whole summary as its "summary" member. Its level
  // follows the outcome, so -q still shows a run that failed or rejected files.
  void print_human() const;

  // The summary as `--summary-json` writes it and `tune` reads it back (nlohmann::ordered_json:
  // the keys in this order). Fractions and seconds are rounded to milliseconds.
  nlohmann::ordered_json to_json() const;
  // Invalid UTF-8 (a reason quoting a file's bytes) is written as U+FFFD, never a throw.
  std::string json() const { return to_json().dump(2, ' ', false, nlohmann::json::error_handler_t::replace) + "\n"; }
};

}  // namespace edgarpipe
