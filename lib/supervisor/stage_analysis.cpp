#include "stage_analysis.hpp"

#include "edgarpipe/supervisor/ratio_advice.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <cmath>
#include <thread>
#include <utility>

namespace edgarpipe {

namespace {
constexpr double kSecondsToJudge = 2;  // the shortest run whose busy shares give advice
}  // namespace

StageCounts suggest_ratio(const std::array<double, 3>& work, const StageCounts& now, int bottleneck,
                          const StageCounts& most) {
  constexpr std::size_t kStages = 3;
  std::uint32_t total = 0, room = 0;
  double work_total = 0;
  for (std::size_t s = 0; s < kStages; ++s) {
    total += now[s];
    room += std::max(1U, most[s]);
    work_total += std::max(0.0, work[s]);
  }
  if (work_total <= 0) return now;
  total = std::clamp<std::uint32_t>(total, kStages, room);
  std::array<double, kStages> ideal{};
  StageCounts count{};
  std::uint32_t given = 0;
  for (std::size_t s = 0; s < kStages; ++s) {
    ideal[s] = std::max(0.0, work[s]) / work_total * total;
    count[s] = std::clamp<std::uint32_t>(static_cast<std::uint32_t>(ideal[s]), 1, std::max(1U, most[s]));
    given += count[s];
  }
  // Largest remainders: the stage furthest below its share gains, the one furthest above loses.
  const auto gap = [&](std::size_t s) { return ideal[s] - static_cast<double>(count[s]); };
  const auto pick = [&](bool gain) {
    std::size_t chosen = kStages;
    for (std::size_t s = 0; s < kStages; ++s) {
      const bool can = gain ? count[s] < std::max(1U, most[s]) : count[s] > 1;
      if (can && (chosen == kStages || (gain ? gap(s) > gap(chosen) : gap(s) < gap(chosen)))) chosen = s;
    }
    return chosen;  // there is one: kStages <= total <= the room
  };
  for (; given < total; ++given) ++count[pick(true)];
  for (; given > total; --given) --count[pick(false)];
  if (bottleneck >= 0) {
    const auto b = static_cast<std::size_t>(bottleneck);
    const std::uint32_t floor = std::min(now[b], std::max(1U, most[b]));
    while (count[b] < floor) {
      ++count[b];
      std::size_t from = b;
      for (std::size_t s = 0; s < kStages; ++s)
        if (s != b && count[s] > 1 && (from == b || gap(s) < gap(from))) from = s;
      if (from == b) break;
      --count[from];
    }
  }
  return count;
}

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
  for (const auto& [role, v] : sums) {
    a.busy[role] = v.first / v.second;
    work_total += v.first;
    if (a.busy[role] > best) {
      best = a.busy[role];
      a.bottleneck = role;
    }
  }
  // Below a couple of seconds, process start-up and the first and last files are most of the
  // run: its shares name a bottleneck, but advice from them would mislead.
  if (work_total <= 0 || run_ns < kSecondsToJudge * 1e9) return a;
  const bool sqlite = parse_sink_url(o.sink).kind == SinkUrl::Kind::kSqlite;
  if (a.bottleneck == "writer" && sqlite) {
    // More writers do not help SQLite: it admits one writing transaction at a time.
    a.suggestion = "SQLite itself is the limit; a server database (--sink postgresql://...) loads in parallel";
    return a;
  }
  constexpr std::array<const char*, 3> kRoles = {"reader", "parser", "writer"};
  const StageCounts now = {o.readers, o.parsers, o.writers};
  const std::uint32_t cores = std::max(1U, std::thread::hardware_concurrency());
  std::array<double, 3> work{};
  int bottleneck = -1;
  for (std::size_t s = 0; s < kRoles.size(); ++s) {
    if (sums.count(kRoles[s])) work[s] = sums[kRoles[s]].first;
    if (a.bottleneck == kRoles[s]) bottleneck = static_cast<int>(s);
  }
  const StageCounts advice = suggest_ratio(work, now, bottleneck, {cores, cores, sqlite ? 1U : cores});
  if (advice != now)
    a.suggestion = fmt::format("--readers {} --parsers {} --writers {}", advice[0], advice[1], advice[2]);
  return a;
}

}  // namespace edgarpipe
