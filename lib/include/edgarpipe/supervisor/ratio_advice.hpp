// The stage-ratio advice of a run's summary ("try --readers R --parsers P --writers W"), apart
// from the measurement it is made from so that its rules can be tested one by one.
#pragma once

#include <array>
#include <cstdint>

namespace edgarpipe {

// Stages in pipeline order: reader, parser, writer.
using StageCounts = std::array<std::uint32_t, 3>;

// The run's processes split again in proportion to each stage's measured work (busy share x
// processes), by largest remainders so the total stays the run's. Advice that contradicts the
// verdict it comes with is never given: the bottleneck stage never gets fewer processes than it
// had, no stage fewer than 1 or more than `most[stage]` (the cores: more processes of one stage
// than cores cannot all be busy; 1 for SQLite's writers, which take turns).
StageCounts suggest_ratio(const std::array<double, 3>& work, const StageCounts& now, int bottleneck,
                          const StageCounts& most);

}  // namespace edgarpipe
