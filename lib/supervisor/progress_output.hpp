// The progress line of a run (progress.hpp draws it): its figures from the stages' counters, and
// where it goes (redrawn on a terminal, else a log line). Internal to lib/supervisor/.
#pragma once

#include <cstdint>

#include "edgarpipe/stages/pipeline_layout.hpp"
#include "edgarpipe/supervisor/progress.hpp"

namespace edgarpipe {

// The stages' counters summed, `seconds` into the run, of `bytes_total` input bytes.
ProgressSample progress_sample(const PipelineLayout& layout, double seconds, std::uint64_t bytes_total);
// On a terminal, one line redrawn in place, a column short of the width (a full line wraps on
// some terminals); elsewhere a plain line, or a JSON line with the figures as members.
void print_progress(const ProgressMeter& meter, bool terminal);

}  // namespace edgarpipe
