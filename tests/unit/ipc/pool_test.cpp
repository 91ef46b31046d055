// ChunkPool and ChunkAllocator: layout, size classes, the ownership state machine, stale handles,
// and a producer/consumer stress across processes with every chunk accounted for at the end.
#include <sched.h>
#include <sys/mount.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <catch2/catch.hpp>
#include <cstdlib>
#include <cstring>
#include <optional>
#include <random>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include "edgarpipe/ipc/chunk_pool.hpp"
#include "edgarpipe/ipc/doorbell.hpp"
#include "edgarpipe/ipc/shared_segment.hpp"
#include "edgarpipe/ipc/spsc_ring.hpp"

using namespace edgarpipe::ipc;

namespace {
const SizeClass kClasses[] = {{4096, 8}, {64 * 1024, 4}, {1024 * 1024, 2}};
const OwnerId kProducer{1, 1};
const OwnerId kConsumer{2, 7};

// A producer's acquire: take back returned chunks and sleep on the doorbell until one fits.
std::optional<ChunkHandle> acquire_or_wait(ChunkAllocator& alloc, SpscRing& returns, Doorbell& bell,
                                           std::uint64_t bytes) {
  for (;;) {
    if (auto h = alloc.acquire(bytes, kProducer)) return h;
    const std::uint32_t key = bell.prepare_wait();
    std::uint64_t returned;
    bool any = false;
    while (returns.try_pop(returned)) {
      REQUIRE(alloc.recycle(returned));
      any = true;
    }
    if (!any) bell.wait(key, std::chrono::milliseconds(100));
  }
}

[[maybe_unused]] long minor_faults() {  // unused under sanitizers
  rusage usage{};
  ::getrusage(RUSAGE_SELF, &usage);
  return usage.ru_minflt;
}

std::string unique_name(const char* what) {
  return std::string(kSegmentPrefix) + std::to_string(::getpid()) + "-test-" + what + "-" +
         std::to_string(std::random_device{}());
}
}  // namespace

TEST_CASE("ChunkPool lays out page-aligned, padded chunks per size class", "[ipc][pool]") {
  std::vector<std::byte> memory(ChunkPool::bytes_for(kClasses) + 4096);
  auto* base = reinterpret_cast<std::byte*>(align_up(reinterpret_cast<std::uintptr_t>(memory.data()), 4096));
  ChunkPool pool = ChunkPool::format(base, 3, kClasses);
  REQUIRE(pool.chunk_count() == 14);
  REQUIRE(pool.largest_chunk() == 1024 * 1024);
  std::byte* previous_end = nullptr;
  for (std::uint16_t i = 0; i < pool.chunk_count(); ++i) {
    const ChunkHandle h = pool.current_handle(i);
    REQUIRE(handle_pool(h) == 3);
    std::byte* data = pool.data(h);
    REQUIRE(reinterpret_cast<std::uintptr_t>(data) % 4096 == 0);
    if (previous_end) REQUIRE(data >= previous_end);  // no overlap, padding included
    previous_end = data + pool.descriptor(i).capacity + kTailPadding;
  }
  REQUIRE(previous_end <= base + ChunkPool::bytes_for(kClasses));
  REQUIRE(ChunkPool::attach(base).chunk_count() == 14);
  std::vector<std::byte> garbage(8192);
  REQUIRE_THROWS(ChunkPool::attach(garbage.data()));
}

TEST_CASE("Chunk ownership follows FREE-FILLING-PUBLISHED-CLAIMED-RETURNED and refuses stale handles", "[ipc][pool]") {
  std::vector<std::byte> memory(ChunkPool::bytes_for(kClasses));
  ChunkPool pool = ChunkPool::format(memory.data(), 1, kClasses);
  ChunkAllocator alloc(pool);
  REQUIRE(alloc.free_count() == 14);

  const auto h = alloc.acquire(100, kProducer);
  REQUIRE(h);
  REQUIRE(pool.descriptor_of(*h).capacity == 4096);
  auto state = [&] { return ChunkDescriptor::state_of(pool.descriptor_of(*h).state.load()); };
  auto owner = [&] { return ChunkDescriptor::owner_of(pool.descriptor_of(*h).state.load()); };
  REQUIRE(state() == ChunkState::kFilling);
  REQUIRE(owner() == kProducer.packed());

  REQUIRE_FALSE(pool.claim(*h, kConsumer));          // not published yet
  REQUIRE_FALSE(pool.publish(*h, 5000, kProducer));  // longer than the chunk
  REQUIRE_FALSE(pool.publish(*h, 10, kConsumer));    // not the owner
  REQUIRE(pool.publish(*h, 10, kProducer));
  REQUIRE(state() == ChunkState::kPublished);
  REQUIRE(pool.claim(*h, kConsumer));
  REQUIRE_FALSE(pool.claim(*h, kConsumer));  // handed over twice
  REQUIRE(owner() == kConsumer.packed());
  REQUIRE(pool.retire(*h, kConsumer));
  REQUIRE(state() == ChunkState::kReturned);
  CHECK(alloc.recycle(*h));
  REQUIRE(alloc.free_count() == 14);
  // The old handle is stale now: the generation moved on.
  const ChunkHandle fresh = pool.current_handle(handle_index(*h));
  REQUIRE(handle_generation(fresh) == handle_generation(*h) + 1);
  REQUIRE_FALSE(pool.begin_fill(*h, kProducer));
  REQUIRE_FALSE(pool.claim(*h, kConsumer));
}

TEST_CASE("ChunkAllocator picks the smallest class, overflows one class up, keeps the largest for large payloads",
          "[ipc][pool]") {
  std::vector<std::byte> memory(ChunkPool::bytes_for(kClasses));
  ChunkPool pool = ChunkPool::format(memory.data(), 1, kClasses);
  ChunkAllocator alloc(pool);
  std::vector<ChunkHandle> small;
  for (int i = 0; i < 8; ++i) small.push_back(*alloc.acquire(1000, kProducer));
  for (auto h : small) REQUIRE(pool.descriptor_of(h).capacity == 4096);
  // Small class exhausted: the next one up serves.
  std::vector<ChunkHandle> medium;
  for (int i = 0; i < 4; ++i) medium.push_back(*alloc.acquire(1000, kProducer));
  for (auto h : medium) REQUIRE(pool.descriptor_of(h).capacity == 64 * 1024);
  // But never the largest class for a payload that a smaller class could hold.
  REQUIRE_FALSE(alloc.acquire(1000, kProducer));
  // A large payload gets the largest class; one too large for any class never fits.
  const auto big = alloc.acquire(900 * 1024, kProducer);
  REQUIRE(big);
  REQUIRE(pool.descriptor_of(*big).capacity == 1024 * 1024);
  REQUIRE_FALSE(alloc.fits(2 * 1024 * 1024));
  REQUIRE(alloc.fits(1024 * 1024));
  // An abandoned fill goes straight back.
  CHECK(alloc.recycle(*big));
  REQUIRE(alloc.free_count() == 2);
  // The allocator rebuilt from the records (as after a restart) sees the same free chunks.
  ChunkAllocator rebuilt(pool);
  REQUIRE(rebuilt.free_count() == 2);
}

TEST_CASE("Chunks cross processes zero-copy and every chunk comes back", "[ipc][pool][process][stress]") {
  const std::string pool_name = unique_name("pool");
  const std::string ring_name = unique_name("rings");
  const std::uint32_t ring_bytes = static_cast<std::uint32_t>(align_up(SpscRing::bytes_for(16), 128));
  SharedSegment pool_segment = SharedSegment::create(pool_name, ChunkPool::bytes_for(kClasses));
  SharedSegment ring_segment = SharedSegment::create(ring_name, 2 * ring_bytes + 2 * sizeof(Doorbell));
  ChunkPool pool = ChunkPool::format(pool_segment.base(), 9, kClasses);
  SpscRing* forward = SpscRing::construct(ring_segment.base(), 16);
  SpscRing* back = SpscRing::construct(ring_segment.base() + ring_bytes, 16);
  auto* bells = new (ring_segment.base() + 2 * ring_bytes) Doorbell[2];
  // Bounded under sanitizers, whose instrumentation slows every access tenfold or more.
#if defined(__SANITIZE_THREAD__) || defined(__SANITIZE_ADDRESS__)
  constexpr int kMessages = 2'000;
#else
  constexpr int kMessages = 20'000;
#endif

  const pid_t child = ::fork();
  if (child == 0) {
    SharedSegment p = SharedSegment::open(pool_name);
    SharedSegment r = SharedSegment::open(ring_name);
    ChunkPool view = ChunkPool::attach(p.base());
    auto* in = reinterpret_cast<SpscRing*>(r.base());
    auto* out = reinterpret_cast<SpscRing*>(r.base() + ring_bytes);
    auto* b = reinterpret_cast<Doorbell*>(r.base() + 2 * ring_bytes);
    int bad = 0;
    std::vector<unsigned char> pattern(1024 * 1024);
    for (int n = 0; n < kMessages;) {
      const std::uint32_t key = b[0].prepare_wait();
      std::uint64_t h;
      if (!in->try_pop(h)) {
        b[0].wait(key, std::chrono::milliseconds(100));
        continue;
      }
      if (!view.claim(h, kConsumer)) ++bad;
      const auto& d = view.descriptor_of(h);
      // Check the payload in place: every byte equals the low byte of the message number.
      std::memset(pattern.data(), static_cast<int>(d.tag & 0xFF), d.length);
      if (std::memcmp(view.data(h), pattern.data(), d.length) != 0) ++bad;
      if (!view.retire(h, kConsumer)) ++bad;
      while (!out->try_push(h)) std::this_thread::yield();
      b[1].ring();
      ++n;
    }
    ::_exit(bad == 0 ? 0 : 1);
  }

  ChunkAllocator alloc(pool);
  std::mt19937 rng(42);
  std::uniform_int_distribution<std::uint64_t> size(1, 1024 * 1024);
  int sent = 0;
  while (sent < kMessages) {
    const std::uint64_t bytes = size(rng);
    const std::optional<ChunkHandle> h = acquire_or_wait(alloc, *back, bells[1], bytes);
    std::memset(pool.data(*h), sent & 0xFF, bytes);
    pool.descriptor_of(*h).tag = static_cast<std::uint64_t>(sent);
    REQUIRE(pool.publish(*h, bytes, kProducer));
    REQUIRE(forward->try_push(*h));  // capacity >= chunk count: never full while we hold a chunk
    bells[0].ring();
    ++sent;
  }
  int status = 0;
  ::waitpid(child, &status, 0);
  std::uint64_t returned;
  while (back->try_pop(returned)) CHECK(alloc.recycle(returned));
  SharedSegment::remove(pool_name);
  SharedSegment::remove(ring_name);
  REQUIRE(WIFEXITED(status));
  REQUIRE(WEXITSTATUS(status) == 0);
  REQUIRE(alloc.free_count() == pool.chunk_count());
}

TEST_CASE("Chunk hand-off between threads: payload visible after claim (checked by TSan)", "[ipc][pool][stress]") {
  std::vector<std::byte> memory(ChunkPool::bytes_for(kClasses));
  ChunkPool pool = ChunkPool::format(memory.data(), 4, kClasses);
  std::vector<std::byte> rings(2 * align_up(SpscRing::bytes_for(16), 128) + 128);
  auto* base = reinterpret_cast<std::byte*>(align_up(reinterpret_cast<std::uintptr_t>(rings.data()), 128));
  SpscRing* forward = SpscRing::construct(base, 16);
  SpscRing* back = SpscRing::construct(base + align_up(SpscRing::bytes_for(16), 128), 16);
  Doorbell bells[2];
  constexpr int kMessages = 5'000;
  std::atomic<int> bad{0};
  std::thread consumer([&] {
    for (int n = 0; n < kMessages;) {
      const std::uint32_t key = bells[0].prepare_wait();
      std::uint64_t h;
      if (!forward->try_pop(h)) {
        bells[0].wait(key, std::chrono::milliseconds(100));
        continue;
      }
      if (!pool.claim(h, kConsumer)) ++bad;
      const auto& d = pool.descriptor_of(h);
      const auto* words = reinterpret_cast<const std::uint64_t*>(pool.data(h));
      for (std::uint64_t i = 0; i < d.length / 8; ++i)
        if (words[i] != d.tag) ++bad;
      if (!pool.retire(h, kConsumer)) ++bad;
      if (!back->try_push(h)) ++bad;
      bells[1].ring();
      ++n;
    }
  });
  ChunkAllocator alloc(pool);
  for (int sent = 0; sent < kMessages; ++sent) {
    const std::uint64_t bytes = 8 * (1 + static_cast<std::uint64_t>(sent) % 512);
    const std::optional<ChunkHandle> h = acquire_or_wait(alloc, *back, bells[1], bytes);
    auto* words = reinterpret_cast<std::uint64_t*>(pool.data(*h));
    for (std::uint64_t i = 0; i < bytes / 8; ++i) words[i] = static_cast<std::uint64_t>(sent);
    pool.descriptor_of(*h).tag = static_cast<std::uint64_t>(sent);
    REQUIRE(pool.publish(*h, bytes, kProducer));
    REQUIRE(forward->try_push(*h));
    bells[0].ring();
  }
  consumer.join();
  std::uint64_t returned;
  while (back->try_pop(returned)) CHECK(alloc.recycle(returned));
  REQUIRE(bad == 0);
  REQUIRE(alloc.free_count() == pool.chunk_count());
}

TEST_CASE("A lazy last class is left out of the pre-faulted prefix and works on first use", "[ipc][pool]") {
  const std::string name = unique_name("lazy");
  const SizeClass classes[] = {{4096, 4}, {64 * 1024, 2}, {8 * 1024 * 1024, 1}};
  SharedSegment segment = SharedSegment::create(name, ChunkPool::bytes_for(classes), SharedSegment::Populate::kNone);
  const ChunkPool pool = ChunkPool::format(segment.base(), 3, classes, /*lazy_last_class=*/true);
  // The prefix ends where the last class's data begins: everything but the 8 MiB chunk.
  CHECK(pool.eager_bytes() == ChunkPool::bytes_for(classes) - align_up(8 * 1024 * 1024 + kTailPadding, 4096));
  CHECK(pool.descriptor(6).data_offset == pool.eager_bytes());
  segment.populate(pool.eager_bytes());
  // Another process's view pre-faults the same prefix; the lazy chunk takes its pages when used.
  const pid_t child = ::fork();
  if (child == 0) {
    SharedSegment mine = open_pool_segment(name, PoolRole::kProducer);
    const ChunkPool view = ChunkPool::attach(mine.base());
    // The producer's view of the eager prefix is mapped writable: writing it takes no fault.
    // (Sanitizers fault in shadow pages of their own on first access.)
#if !defined(__SANITIZE_ADDRESS__) && !defined(__SANITIZE_THREAD__)
    const long faults_before = minor_faults();
    auto* page = reinterpret_cast<volatile std::byte*>(mine.base());
    for (std::size_t i = 0; i < view.eager_bytes(); i += 4096) page[i] = page[i];  // write, keep contents
    if (minor_faults() != faults_before) ::_exit(2);
#endif
    std::byte* big = view.data(view.current_handle(6));
    for (std::size_t i = 0; i < 8 * 1024 * 1024; i += 4096) big[i] = std::byte{0x5A};
    ::_exit(view.eager_bytes() == pool.eager_bytes() ? 0 : 1);
  }
  int status = 0;
  ::waitpid(child, &status, 0);
  CHECK(WIFEXITED(status));
  CHECK(WEXITSTATUS(status) == 0);
  const std::byte* big = pool.data(pool.current_handle(6));
  CHECK(big[4096 * 100] == std::byte{0x5A});
  SharedSegment::remove(name);
  // Without the lazy flag the whole pool is eager.
  const std::string all = unique_name("eager");
  SharedSegment eager = SharedSegment::create(all, ChunkPool::bytes_for(classes));
  CHECK(ChunkPool::format(eager.base(), 4, classes).eager_bytes() == ChunkPool::bytes_for(classes));
  SharedSegment::remove(all);
}

TEST_CASE("Faulting in slices on several threads covers every page, the last partial slice too", "[ipc][pool]") {
  // populate() and map_populated() split a range into page-aligned slices of at least 8 MiB over
  // up to four threads. A range of three slices and five pages: every page must then be mapped in
  // the process that populated it (no fault on a write), in the supervisor's and in a producer's.
  const std::size_t bytes = 3 * (8u << 20) + 5 * 4096;
  const std::string name = unique_name("slices");
  SharedSegment segment = SharedSegment::create(name, bytes, SharedSegment::Populate::kNone);
  segment.populate(bytes);
#if !defined(__SANITIZE_ADDRESS__) && !defined(__SANITIZE_THREAD__)
  const long faults_before = minor_faults();
  auto* page = reinterpret_cast<volatile std::byte*>(segment.base());
  for (std::size_t i = 0; i < bytes; i += 4096) page[i] = std::byte{0x11};
  CHECK(minor_faults() == faults_before);
#endif
  const pid_t child = ::fork();
  if (child == 0) {
    SharedSegment mine = SharedSegment::open(name, SharedSegment::Populate::kNone);
    mine.map_populated(bytes);
    auto* mapped = reinterpret_cast<volatile std::byte*>(mine.base());
#if !defined(__SANITIZE_ADDRESS__) && !defined(__SANITIZE_THREAD__)
    const long before = minor_faults();
    for (std::size_t i = 0; i < bytes; i += 4096) mapped[i] = std::byte{0x22};
    if (minor_faults() != before) ::_exit(2);
#else
    for (std::size_t i = 0; i < bytes; i += 4096) mapped[i] = std::byte{0x22};
#endif
    ::_exit(0);
  }
  int status = 0;
  ::waitpid(child, &status, 0);
  CHECK(WIFEXITED(status));
  CHECK(WEXITSTATUS(status) == 0);
  CHECK(segment.base()[bytes - 4096] == std::byte{0x22});  // the child's writes reached the segment
  SharedSegment::remove(name);
}

TEST_CASE("A full /dev/shm is an error naming the segment and never a SIGBUS", "[ipc][pool][process]") {
  // In a child with a private mount namespace whose /dev/shm is a 2 MiB tmpfs (needs root: the
  // test is skipped without), an 8 MiB segment cannot be populated. Without the reservation the
  // child would die of SIGBUS on the first page past 2 MiB.
  const pid_t child = ::fork();
  if (child == 0) {
    if (::unshare(CLONE_NEWNS) != 0 || ::mount("none", "/", nullptr, MS_REC | MS_PRIVATE, nullptr) != 0 ||
        ::mount("tmpfs", "/dev/shm", "tmpfs", 0, "size=2m") != 0)
      ::_exit(77);
    const std::string name = unique_name("full");
    try {
      SharedSegment::create(name, 8u << 20);
      ::_exit(3);  // populated 8 MiB in 2
    } catch (const std::runtime_error& e) {
      if (std::string(e.what()).find("no room in /dev/shm") == std::string::npos ||
          std::string(e.what()).find(name) == std::string::npos)
        ::_exit(4);
    }
    if (SharedSegment::remove(name)) ::_exit(5);  // the failed segment was left behind
    SharedSegment lazy = SharedSegment::create(name, 8u << 20, SharedSegment::Populate::kNone);
    if (lazy.reserve(0, 1u << 20) != 0) ::_exit(6);       // what fits is reserved
    if (lazy.reserve(0, 8u << 20) != ENOSPC) ::_exit(7);  // what does not is refused
    SharedSegment::remove(name);
    ::_exit(0);
  }
  int status = 0;
  ::waitpid(child, &status, 0);
  if (WIFEXITED(status) && WEXITSTATUS(status) == 77) {
    WARN("skipped: no private mount namespace with a small /dev/shm (needs root)");
    return;
  }
  INFO("exit status " << (WIFEXITED(status) ? WEXITSTATUS(status) : -1) << ", signal "
                      << (WIFSIGNALED(status) ? WTERMSIG(status) : 0));
  CHECK(WIFEXITED(status));
  CHECK(WEXITSTATUS(status) == 0);
}
