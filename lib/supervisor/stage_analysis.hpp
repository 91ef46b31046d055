// What an attempt's stage processes did: each one's busy share and waits, each stage's average,
// the bottleneck, and a ratio suggestion. Internal to lib/supervisor/.
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "edgarpipe/stages/pipeline_layout.hpp"
#include "run_options.hpp"
#include "run_summary.hpp"

namespace edgarpipe {

struct StageAnalysis {
  std::vector<StageProcesses> stages;  // with busy and waits per process filled in
  std::map<std::string, double> busy;  // per stage, averaged over its processes
  std::string bottleneck, suggestion;
};

// Busy shares per stage, the bottleneck, and a ratio suggestion: the same number of processes
// split in proportion to each stage's measured work (busy share x process count).
// `stages` are the attempt's processes; `exit_ns` when each was reaped.
StageAnalysis analyse_stages(const PipelineLayout& layout, std::vector<StageProcesses> stages,
                             const std::map<pid_t, std::uint64_t>& exit_ns, const RunOptions& o);

}  // namespace edgarpipe
