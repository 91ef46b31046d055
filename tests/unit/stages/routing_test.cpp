// StageContext::least_loaded: where readers send files and parsers send batches. Loads are read
// from the consumers' slots in a real control segment, as the stage processes read them.
#include <unistd.h>

#include <catch2/catch.hpp>
#include <vector>

#include "edgarpipe/input/sources.hpp"
#include "edgarpipe/stages/stage_context.hpp"

using namespace edgarpipe;

namespace {

struct Producers {
  // Named like a run's segments (prefix, pid), so `edgarpipe cleanup` removes it if the test dies.
  std::string name = std::string(ipc::kSegmentPrefix) + std::to_string(::getpid()) + "-test-routing";
  PipelineShape shape{2, 3, 1, 4, 4};  // 2 readers feeding 3 parsers
  ipc::SharedSegment segment = ipc::SharedSegment::create(name, PipelineLayout::bytes_for(shape, {}));
  PipelineLayout layout = PipelineLayout::format(segment.base(), shape, {}, name);

  ~Producers() { ipc::SharedSegment::remove(name); }
  // Reader `index`'s view of the run (only its routing is used here).
  StageContext reader(std::uint32_t index) {
    const std::uint32_t slot = layout.slot_of(Role::kReader, index);
    return StageContext{ipc::SharedSegment::open(name), layout, slot, index, layout.slot(slot), {}};
  }
};

}  // namespace

TEST_CASE("Routing: least queued bytes from all producers, ties round from the producer's index", "[routing]") {
  Producers run;
  StageContext r0 = run.reader(0);
  StageContext r1 = run.reader(1);
  const std::vector<std::uint64_t> none(3, 0);
  constexpr std::uint64_t kWindow = 1000;

  // All idle: each reader starts from its own index, so two readers do not both pick parser 0.
  CHECK(r0.least_loaded(Role::kParser, none, 10, kWindow) == 0);
  CHECK(r1.least_loaded(Role::kParser, none, 10, kWindow) == 1);

  // Loads from any producer count: what reader 1 queued steers reader 0 too.
  r1.add_load(Role::kParser, 0, 300);
  r1.add_load(Role::kParser, 1, 100);
  r0.add_load(Role::kParser, 2, 200);
  CHECK(r0.least_loaded(Role::kParser, none, 10, kWindow) == 1);
  CHECK(r1.least_loaded(Role::kParser, none, 10, kWindow) == 1);

  // By bytes, not by count: one large file outweighs many small ones.
  r0.add_load(Role::kParser, 1, 400);  // parser 1: 500 bytes
  CHECK(r0.least_loaded(Role::kParser, none, 10, kWindow) == 2);

  // A parser holding this reader's window is passed over, unless it holds nothing of it.
  std::vector<std::uint64_t> mine = {0, 0, 995};
  CHECK(r0.least_loaded(Role::kParser, mine, 10, kWindow) == 0);
  CHECK(r0.least_loaded(Role::kParser, mine, 5, kWindow) == 2);
  CHECK(r0.least_loaded(Role::kParser, none, 5000, kWindow) == 2);  // larger than the window: still goes

  // Every parser at the window: none, and the reader waits for returns.
  mine = {990, 990, 990};
  CHECK(r0.least_loaded(Role::kParser, mine, 20, kWindow) == StageContext::kNoConsumer);

  // Loads fall as consumers give bytes back.
  StageContext p1{ipc::SharedSegment::open(run.name),
                  run.layout,
                  run.layout.slot_of(Role::kParser, 1),
                  1,
                  run.layout.slot(run.layout.slot_of(Role::kParser, 1)),
                  {}};
  p1.drop_load(500);
  CHECK(r0.load_of(Role::kParser, 1) == 0);
  CHECK(r0.least_loaded(Role::kParser, none, 10, kWindow) == 1);
}
