// Cross-process zero-copy hand-off through a chunk pool and SPSC rings, against memcpy of the
// same sizes in the same binary (the reference). One iteration moves one payload: the producer
// writes it into a pre-faulted chunk (the one copy a reader makes from a file), hands the 64-bit
// handle to a consumer process that reads every byte in place and hands the handle back.
#include <sys/wait.h>
#include <unistd.h>

#include <benchmark/benchmark.h>
#include <cstring>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include "edgarpipe/ipc/chunk_pool.hpp"
#include "edgarpipe/ipc/doorbell.hpp"
#include "edgarpipe/ipc/shared_segment.hpp"
#include "edgarpipe/ipc/spsc_ring.hpp"

using namespace edgarpipe::ipc;

namespace {

void BM_Memcpy(benchmark::State& state) {
  const auto size = static_cast<std::size_t>(state.range(0));
  std::vector<char> src(size, 'x'), dst(size);
  for (auto _ : state) {
    std::memcpy(dst.data(), src.data(), size);
    benchmark::DoNotOptimize(dst.data());
    benchmark::ClobberMemory();
  }
  state.SetBytesProcessed(static_cast<std::int64_t>(state.iterations() * size));
  state.SetItemsProcessed(static_cast<std::int64_t>(state.iterations()));
}

struct Shared {
  Doorbell bells[2];  // 0: consumer's, 1: producer's
  std::atomic<std::uint32_t> stop{0};
};

void BM_Handoff(benchmark::State& state) {
  const auto size = static_cast<std::uint64_t>(state.range(0));
  const std::string tag = std::to_string(::getpid()) + "-bench-" + std::to_string(std::random_device{}());
  const std::string pool_name = std::string(kSegmentPrefix) + tag + "-pool";
  const std::string ctl_name = std::string(kSegmentPrefix) + tag + "-ctl";
  const SizeClass classes[] = {{align_up(size, 4096), 8}};
  const std::uint64_t ring_bytes = align_up(SpscRing::bytes_for(8), 128);
  SharedSegment pool_seg = SharedSegment::create(pool_name, ChunkPool::bytes_for(classes));
  SharedSegment ctl_seg = SharedSegment::create(ctl_name, 2 * ring_bytes + sizeof(Shared));
  ChunkPool pool = ChunkPool::format(pool_seg.base(), 1, classes);
  SpscRing* forward = SpscRing::construct(ctl_seg.base(), 8);
  SpscRing* back = SpscRing::construct(ctl_seg.base() + ring_bytes, 8);
  auto* shared = new (ctl_seg.base() + 2 * ring_bytes) Shared;

  const pid_t child = ::fork();
  if (child == 0) {
    SharedSegment p = SharedSegment::open(pool_name);
    SharedSegment c = SharedSegment::open(ctl_name);
    ChunkPool view = ChunkPool::attach(p.base());
    auto* in = reinterpret_cast<SpscRing*>(c.base());
    auto* out = reinterpret_cast<SpscRing*>(c.base() + ring_bytes);
    auto* sh = reinterpret_cast<Shared*>(c.base() + 2 * ring_bytes);
    const OwnerId me{2, 1};
    std::uint64_t sink = 0;
    while (sh->stop.load(std::memory_order_acquire) == 0) {
      const std::uint32_t key = sh->bells[0].prepare_wait();
      std::uint64_t h;
      if (!in->try_pop(h)) {
        sh->bells[0].wait(key, std::chrono::milliseconds(50));
        continue;
      }
      if (!view.claim(h, me)) ::_exit(3);  // a broken handoff: the parent's wait reports it
      const auto* data = reinterpret_cast<const std::uint64_t*>(view.data(h));
      const std::uint64_t words = view.descriptor_of(h).length / 8;
      for (std::uint64_t i = 0; i < words; ++i) sink += data[i];  // read every byte in place
      if (!view.retire(h, me) || !out->try_push(h)) ::_exit(3);
      sh->bells[1].ring();
    }
    benchmark::DoNotOptimize(sink);
    ::_exit(0);
  }

  ChunkAllocator alloc(pool);
  const OwnerId me{1, 1};
  std::vector<char> source(size, 'y');
  for (auto _ : state) {
    std::optional<ChunkHandle> h;
    while (!(h = alloc.acquire(size, me))) {
      const std::uint32_t key = shared->bells[1].prepare_wait();
      std::uint64_t r;
      bool any = false;
      while (back->try_pop(r)) {
        if (!alloc.recycle(r)) state.SkipWithError("recycle failed: the handoff is broken");
        any = true;
      }
      if (!any) shared->bells[1].wait(key, std::chrono::milliseconds(50));
    }
    std::memcpy(pool.data(*h), source.data(), size);  // the reader's one copy
    if (!pool.publish(*h, size, me) || !forward->try_push(*h)) {
      state.SkipWithError("publish or push failed: the handoff is broken");
      break;
    }
    shared->bells[0].ring();
  }
  // Wait for the consumer to finish what is in flight so the timing covers every byte read.
  while (alloc.free_count() != pool.chunk_count()) {
    std::uint64_t r;
    if (back->try_pop(r))
      (void)alloc.recycle(r);  // draining after the measurement
    else
      std::this_thread::yield();
  }
  state.SetBytesProcessed(static_cast<std::int64_t>(state.iterations() * size));
  state.SetItemsProcessed(static_cast<std::int64_t>(state.iterations()));
  shared->stop.store(1, std::memory_order_release);
  shared->bells[0].ring();
  int status = 0;
  ::waitpid(child, &status, 0);
  if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) state.SkipWithError("the consumer process failed");
  SharedSegment::remove(pool_name);
  SharedSegment::remove(ctl_name);
}

void BM_RingPushPop(benchmark::State& state) {
  // Ring operations per second between two threads (one producer, one consumer).
  std::vector<std::byte> memory(align_up(SpscRing::bytes_for(1024), 128) + 128);
  auto* base = reinterpret_cast<std::byte*>(align_up(reinterpret_cast<std::uintptr_t>(memory.data()), 128));
  SpscRing* ring = SpscRing::construct(base, 1024);
  std::atomic<bool> done{false};
  std::thread consumer([&] {
    std::uint64_t v;
    while (!done.load(std::memory_order_relaxed))
      while (ring->try_pop(v)) benchmark::DoNotOptimize(v);
  });
  std::uint64_t i = 0;
  for (auto _ : state)
    while (!ring->try_push(i)) {
    }
  ++i;
  done = true;
  consumer.join();
  state.SetItemsProcessed(static_cast<std::int64_t>(state.iterations()));
}

// Ring operations per second in the pipeline's topology: P producer threads and C consumer
// threads, one SPSC ring per pair; producers route round-robin, consumers drain their rings
// round-robin. Items/s counts items delivered end to end.
void BM_RingTopology(benchmark::State& state) {
  const auto producers = static_cast<std::uint32_t>(state.range(0));
  const auto consumers = static_cast<std::uint32_t>(state.range(1));
  constexpr std::uint64_t kPerProducer = 1 << 18;
  const std::uint64_t stride = align_up(SpscRing::bytes_for(1024), 128);
  std::vector<std::byte> memory(stride * producers * consumers + 128);
  auto* base = reinterpret_cast<std::byte*>(align_up(reinterpret_cast<std::uintptr_t>(memory.data()), 128));
  auto ring = [&](std::uint32_t p, std::uint32_t c) -> SpscRing& {
    return *reinterpret_cast<SpscRing*>(base + (p * consumers + c) * stride);
  };
  for (auto _ : state) {
    for (std::uint32_t p = 0; p < producers; ++p)
      for (std::uint32_t c = 0; c < consumers; ++c) SpscRing::construct(&ring(p, c), 1024);
    std::atomic<std::uint64_t> delivered{0};
    std::vector<std::thread> threads;
    for (std::uint32_t p = 0; p < producers; ++p)
      threads.emplace_back([&, p] {
        for (std::uint64_t i = 0; i < kPerProducer; ++i)
          while (!ring(p, static_cast<std::uint32_t>(i % consumers)).try_push(i)) std::this_thread::yield();
      });
    for (std::uint32_t c = 0; c < consumers; ++c)
      threads.emplace_back([&, c] {
        std::uint64_t mine = 0, v;
        const std::uint64_t total = kPerProducer * producers;
        while (delivered.load(std::memory_order_relaxed) < total) {
          bool any = false;
          for (std::uint32_t p = 0; p < producers; ++p)
            while (ring(p, c).try_pop(v)) {
              ++mine;
              any = true;
            }
          if (any) {
            delivered.fetch_add(mine, std::memory_order_relaxed);
            mine = 0;
          } else {
            std::this_thread::yield();
          }
        }
      });
    for (auto& t : threads) t.join();
  }
  state.SetItemsProcessed(static_cast<std::int64_t>(state.iterations() * kPerProducer * producers));
}

}  // namespace

BENCHMARK(BM_RingTopology)
    ->Args({1, 2})
    ->Args({2, 2})
    ->Args({3, 2})
    ->Args({2, 4})
    ->UseRealTime()
    ->Unit(benchmark::kMillisecond);
BENCHMARK(BM_Memcpy)->Arg(4096)->Arg(64 << 10)->Arg(1 << 20)->Arg(16 << 20);
BENCHMARK(BM_Handoff)->Arg(4096)->Arg(64 << 10)->Arg(1 << 20)->Arg(16 << 20)->UseRealTime();
BENCHMARK(BM_RingPushPop)->UseRealTime();
