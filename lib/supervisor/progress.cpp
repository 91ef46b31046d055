// The progress line: see progress.hpp.
#include "edgarpipe/supervisor/progress.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <cmath>
#include <vector>

namespace edgarpipe {

std::string format_elapsed(double seconds) {
  const auto s = static_cast<std::uint64_t>(std::max(0.0, seconds));
  if (s >= 3600) return fmt::format("{}:{:02}:{:02}", s / 3600, s / 60 % 60, s % 60);
  return fmt::format("{}:{:02}", s / 60, s % 60);
}

std::string format_bytes(double bytes) {
  if (bytes < 1e3) return fmt::format("{:.0f} B", bytes);
  if (bytes < 1e9) return fmt::format("{:.1f} MB", bytes / 1e6);
  return fmt::format("{:.2f} GB", bytes / 1e9);
}

std::string format_count(double count) {
  if (count < 1e3) return fmt::format("{:.0f}", count);
  if (count < 1e6) return fmt::format("{:.1f}k", count / 1e3);
  return fmt::format("{:.2f}M", count / 1e6);
}

std::string format_bytes_of(double done, double total) {
  if (total < 1e3) return fmt::format("{:.0f}/{:.0f} B", done, total);
  if (total < 1e9) return fmt::format("{:.1f}/{:.1f} MB", done / 1e6, total / 1e6);
  return fmt::format("{:.2f}/{:.2f} GB", done / 1e9, total / 1e9);
}

void ProgressMeter::add(const ProgressSample& sample) {
  samples_.push_back(sample);
  while (samples_.size() > 2 && samples_[1].seconds <= sample.seconds - window_) samples_.pop_front();
}

std::string ProgressMeter::line(std::size_t width) const {
  if (samples_.empty()) return {};
  const ProgressSample& now = samples_.back();
  const ProgressSample& then = samples_.front();
  const double span = now.seconds - then.seconds;
  const bool have_rates = span >= 0.5;  // one sample, or two a moment apart: no rate yet
  auto rate = [&](std::uint64_t a, std::uint64_t b) { return static_cast<double>(a - std::min(a, b)) / span; };

  // Parts in display order, each with its priority (lower goes first when space is short).
  struct Part {
    std::string text;
    int priority;
  };
  std::vector<Part> parts;
  const double share = now.files_total ? 100.0 * static_cast<double>(now.files_done) / now.files_total : 100.0;
  parts.push_back({fmt::format("{} {}/{} files {:.0f}%", format_elapsed(now.seconds), now.files_done, now.files_total,
                               std::floor(share)),
                   100});
  parts.push_back({format_bytes_of(static_cast<double>(now.bytes_done), static_cast<double>(now.bytes_total)), 80});
  const double byte_rate = have_rates ? rate(now.bytes_done, then.bytes_done) : 0;
  const std::uint64_t left = now.bytes_total - std::min(now.bytes_total, now.bytes_done);
  parts.push_back({left == 0       ? "ETA 0:00"
                   : byte_rate > 0 ? "ETA " + format_elapsed(static_cast<double>(left) / byte_rate)
                                   : "ETA --",
                   90});
  if (have_rates) {
    const double file_rate = rate(now.files_done, then.files_done);
    parts.push_back(
        {fmt::format("{} files/s {}/s", file_rate < 10 ? fmt::format("{:.1f}", file_rate) : format_count(file_rate),
                     format_bytes(byte_rate)),
         70});
    parts.push_back({format_count(rate(now.rows, then.rows)) + " rows/s", 40});
  }
  parts.push_back({fmt::format("{} rejected", now.rejected), now.rejected ? 85 : 50});
  if (have_rates) {
    std::string busy = "busy";
    static constexpr const char* kLetters[] = {"r", "p", "w"};
    for (int s = 0; s < 3; ++s) {
      if (now.processes[s] == 0 || then.processes[s] != now.processes[s]) continue;
      const double waited = std::max(0.0, now.waited_seconds[s] - then.waited_seconds[s]);
      const double share_busy = std::clamp(1.0 - waited / (span * now.processes[s]), 0.0, 1.0);
      busy += fmt::format(" {} {:.0f}%", kLetters[s], 100 * share_busy);
    }
    if (busy.size() > 4) parts.push_back({busy, 30});
  }
  if (now.bytes_read > now.bytes_done)
    parts.push_back({format_bytes(static_cast<double>(now.bytes_read - now.bytes_done)) + " read ahead", 20});

  // The parts that fit, taken by priority (the first always), shown in display order.
  constexpr std::string_view kSeparator = " | ";
  std::vector<std::size_t> by_priority(parts.size());
  for (std::size_t i = 0; i < parts.size(); ++i) by_priority[i] = i;
  std::stable_sort(by_priority.begin(), by_priority.end(),
                   [&](std::size_t a, std::size_t b) { return parts[a].priority > parts[b].priority; });
  std::vector<bool> shown(parts.size());
  std::size_t length = 0;
  for (const std::size_t i : by_priority) {
    const std::size_t more = parts[i].text.size() + (length ? kSeparator.size() : 0);
    if (length + more > width && i != 0) continue;
    shown[i] = true;
    length += more;
  }
  std::string out;
  for (std::size_t i = 0; i < parts.size(); ++i) {
    if (!shown[i]) continue;
    if (!out.empty()) out += kSeparator;
    out += parts[i].text;
  }
  if (out.size() > width) out.resize(width);
  return out;
}

}  // namespace edgarpipe
