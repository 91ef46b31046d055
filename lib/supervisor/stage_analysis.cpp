#include "stage_analysis.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <cmath>
#include <utility>

namespace edgarpipe {

namespace {
constexpr double kSecondsToJudge = 2;  // the shortest run whose busy shares give advice
}  // namespace

StageAnalysis analyse_stages(const PipelineLayout& layout, std::vector<StageProcesses> stages,
                             const std::map<pid_t, std::uint64_t>& exit_ns, const RunOptions& o) {
  StageAnalysis a;
  a.stages = std::move(stages);
  std::uint64_t first = UINT64_MAX, last = 0;
  for (std::uint32_t s = 0; s < layout.slot_count(); ++s) {
    const auto& slot = layout.slot(s);
    first = std::min(first, slot.get(counter::kStartNs));
    if (auto it = exit_ns.find(slot.pid.load()); it != exit_ns.end()) last = std::max(last, it->second);
  }
  if (first == 0 || last <= first) return a;
  const double run_ns = static_cast<double>(last - first);
  std::map<std::string, std::pair<double, std::uint32_t>> sums;  // role -> (busy sum, processes)
  for (std::uint32_t s = 0; s < layout.slot_count(); ++s) {
    const auto& slot = layout.slot(s);
    const auto it = exit_ns.find(slot.pid.load());
    const std::uint64_t start = slot.get(counter::kStartNs);
    if (it == exit_ns.end() || start == 0 || it->second < start) continue;
    const double waited = static_cast<double>(slot.get(counter::kWaitInputNs) + slot.get(counter::kWaitOutputNs));
    const double busy = std::max(0.0, static_cast<double>(it->second - start) - waited) / run_ns;
    const auto role = static_cast<Role>(slot.role.load());
    for (auto& group : a.stages) {
      const auto at = std::find(group.pids.begin(), group.pids.end(), slot.pid.load());
      if (group.role != role || at == group.pids.end()) continue;
      const auto i = static_cast<std::size_t>(at - group.pids.begin());
      for (auto* v : {&group.busy, &group.wait_input_s, &group.wait_output_s}) v->resize(group.pids.size());
      group.busy[i] = std::min(1.0, busy);
      group.wait_input_s[i] = static_cast<double>(slot.get(counter::kWaitInputNs)) / 1e9;
      group.wait_output_s[i] = static_cast<double>(slot.get(counter::kWaitOutputNs)) / 1e9;
    }
    auto& [sum, n] = sums[std::string(role_name(role))];
    sum += std::min(1.0, busy);
    ++n;
  }
  double best = -1, work_total = 0;
  std::uint32_t processes = 0;
  for (const auto& [role, v] : sums) {
    a.busy[role] = v.first / v.second;
    work_total += v.first;
    processes += v.second;
    if (a.busy[role] > best) {
      best = a.busy[role];
      a.bottleneck = role;
    }
  }
  // Below a couple of seconds, process start-up and the first and last files are most of the
  // run: its shares name a bottleneck, but advice from them would mislead.
  if (work_total <= 0 || run_ns < kSecondsToJudge * 1e9) return a;
  std::map<std::string, std::uint32_t> now{{"reader", o.readers}, {"parser", o.parsers}, {"writer", o.writers}};
  bool differs = false;
  std::string suggestion;
  for (const char* role : {"reader", "parser", "writer"}) {
    const double share = sums.count(role) ? sums[role].first / work_total : 0;
    const auto count = std::max<std::uint32_t>(1, static_cast<std::uint32_t>(std::lround(share * processes)));
    differs |= count != now[role];
    suggestion += fmt::format("{}--{}s {}", suggestion.empty() ? "" : " ", role, count);
  }
  if (a.bottleneck == "writer" && parse_sink_url(o.sink).kind == SinkUrl::Kind::kSqlite) {
    // More writers do not help SQLite: it admits one writing transaction at a time.
    a.suggestion = "SQLite itself is the limit; a server database (--sink postgresql://...) loads in parallel";
    return a;
  }
  if (differs) a.suggestion = suggestion;
  return a;
}

}  // namespace edgarpipe
