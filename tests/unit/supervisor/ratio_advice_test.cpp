// The stage-ratio advice (ratio_advice.hpp): the run's processes split by measured work, never
// more than the run had (rounding), never fewer for the bottleneck than it had, never more of a
// stage than the cores, never a second SQLite writer. Cases from issue 40 (12) and 33 (3).
#include <catch2/catch.hpp>

#include <random>

#include "edgarpipe/supervisor/ratio_advice.hpp"

using namespace edgarpipe;

namespace {
constexpr StageCounts kManyCores = {16, 16, 16};
}  // namespace

TEST_CASE("the advice keeps the run's total: 1/2/2 with busy writers is not 1/1/5", "[advice]") {
  // Writers 95% busy each, parsers 30%, the reader 20%: work 0.2, 0.6, 1.9.
  CHECK(suggest_ratio({0.2, 0.6, 1.9}, {1, 2, 2}, 2, kManyCores) == StageCounts{1, 1, 3});
  // On 2 cores, 3 writers cannot all be busy: the ratio run is the best there is.
  CHECK(suggest_ratio({0.2, 0.6, 1.9}, {1, 2, 2}, 2, {2, 2, 2}) == StageCounts{1, 2, 2});
  // tune's 1/1/4 with writers the limit: the same total, not 1/1/6.
  const StageCounts after_tune = suggest_ratio({0.5, 0.9, 3.9}, {1, 1, 4}, 2, kManyCores);
  CHECK(after_tune[0] + after_tune[1] + after_tune[2] == 6);
}

TEST_CASE("the advice never takes processes from the bottleneck it names", "[advice]") {
  // 3 readers 90% busy, 1 parser 100% (the bottleneck): readers do more work, but the parsers
  // keep their process: no "bottleneck: parsers (try --readers 4 --parsers 1)".
  CHECK(suggest_ratio({2.7, 1.0, 0.3}, {3, 1, 1}, 1, kManyCores) == StageCounts{3, 1, 1});
  // The readers do 75% of the work, the parsers (the bottleneck) 22%: the parsers keep their one
  // process, and the total stays 4.
  const StageCounts kept = suggest_ratio({3.0, 0.9, 0.1}, {2, 1, 1}, 1, kManyCores);
  CHECK(kept[1] == 1);
  CHECK(kept[0] + kept[1] + kept[2] == 4);
}

TEST_CASE("SQLite's writers stay one, and a stage never gets more processes than cores", "[advice]") {
  CHECK(suggest_ratio({0.4, 1.8, 1.6}, {1, 2, 1}, 1, {2, 2, 1})[2] == 1);
  const StageCounts capped = suggest_ratio({0.1, 5.9, 0.1}, {1, 6, 1}, 1, {2, 2, 2});
  CHECK(capped == StageCounts{2, 2, 2});
}

TEST_CASE("the advice's rules hold over many measured runs", "[advice]") {
  std::mt19937 random(7);
  std::uniform_int_distribution<std::uint32_t> processes(1, 8), cores(1, 16);
  std::uniform_real_distribution<double> busy(0.0, 1.0);
  for (int trial = 0; trial < 20000; ++trial) {
    const StageCounts now = {processes(random), processes(random), processes(random)};
    const std::uint32_t c = cores(random);
    const StageCounts most = {c, c, trial % 3 == 0 ? 1U : c};
    std::array<double, 3> work{};
    int bottleneck = 0;
    double highest = -1;
    for (int s = 0; s < 3; ++s) {
      const double b = busy(random);
      work[s] = b * now[s];
      if (b > highest) highest = b, bottleneck = s;
    }
    const StageCounts got = suggest_ratio(work, now, bottleneck, most);
    INFO("trial " << trial);
    std::uint32_t total = 0, room = 0, had = 0;
    for (int s = 0; s < 3; ++s) {
      CHECK(got[s] >= 1);
      CHECK(got[s] <= most[s]);
      total += got[s];
      room += most[s];
      had += now[s];
    }
    CHECK(total == std::min(had, room));
    CHECK(got[bottleneck] >= std::min(now[bottleneck], most[bottleneck]));
  }
}
