// The run's progress line: what is committed, how fast over the last seconds, what each stage is
// doing, fitted to the terminal.
//
//   0:42 412/1105 files 37% | 15.2/42.7 MB | ETA 1:11 | 9.8 files/s 0.4 MB/s | 52.1k rows/s |
//   0 rejected | busy r 97% p 45% w 30% | 3.1 MB read ahead
//
// Files and bytes both count when committed (or skipped as loaded), so the two agree; bytes read
// but not yet committed are shown apart as "read ahead". Rates and busy shares are over a sliding
// window (the last 10 s), not averages since the start, so they follow a run whose speed changes
// (small filers first, then the large companyfacts files); the ETA divides the bytes left by the
// windowed byte rate, as file sizes vary by four orders of magnitude. When the line is longer than
// the terminal, the most useful parts that fit are shown, in their usual order (elapsed time and
// files always; then ETA, rejects if any, bytes, rates, ... down to read ahead).
#pragma once

#include <cstddef>
#include <cstdint>
#include <deque>
#include <string>

namespace edgarpipe {

struct ProgressSample {
  double seconds = 0;  // since the run began
  std::uint64_t files_done = 0, files_total = 0;
  std::uint64_t bytes_done = 0, bytes_total = 0;
  std::uint64_t bytes_read = 0;  // >= bytes_done: read by the readers, committed or not
  std::uint64_t rows = 0, rejected = 0;
  // Per stage (reader, parser, writer): its process count and the seconds its processes have
  // spent asleep in all, waiting for input or for room downstream.
  std::uint32_t processes[3] = {};
  double waited_seconds[3] = {};
};

class ProgressMeter {
 public:
  explicit ProgressMeter(double window_seconds = 10) : window_(window_seconds) {}

  // Adds the newest sample (seconds never decrease) and forgets those older than the window,
  // keeping one at or before its start.
  void add(const ProgressSample& sample);

  // The line for the latest sample, at most `width` columns (no newline, no control codes).
  std::string line(std::size_t width) const;

  // The latest sample; only after an add().
  const ProgressSample& latest() const { return samples_.back(); }

 private:
  double window_;
  std::deque<ProgressSample> samples_;
};

// "0:42", "1:02:03".
std::string format_elapsed(double seconds);
// "999 B", "15.2 MB", "2.31 GB" (decimal units, as the summary's MB).
std::string format_bytes(double bytes);
// "15.2/42.7 MB": both in the unit of the total.
std::string format_bytes_of(double done, double total);
// "950", "52.1k", "3.40M".
std::string format_count(double count);

}  // namespace edgarpipe
