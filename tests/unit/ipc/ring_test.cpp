// SpscRing and Doorbell: semantics, then stress across threads (for TSan) and across real
// processes sharing a real POSIX shared-memory segment.
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <catch2/catch.hpp>
#include <chrono>
#include <csignal>
#include <cstdlib>
#include <memory>
#include <random>
#include <string>
#include <thread>

#include "edgarpipe/ipc/doorbell.hpp"
#include "edgarpipe/ipc/shared_segment.hpp"
#include "edgarpipe/ipc/spsc_ring.hpp"

using namespace edgarpipe::ipc;

namespace {

struct LocalRing {
  explicit LocalRing(std::uint32_t capacity)
      : memory(static_cast<std::byte*>(std::aligned_alloc(128, align_up(SpscRing::bytes_for(capacity), 128)))),
        ring(SpscRing::construct(memory, capacity)) {}
  ~LocalRing() { std::free(memory); }
  std::byte* memory;
  SpscRing* ring;
};

std::string unique_name(const char* what) {
  return std::string(kSegmentPrefix) + std::to_string(::getpid()) + "-test-" + what + "-" +
         std::to_string(std::random_device{}());
}

}  // namespace

TEST_CASE("SpscRing is FIFO, bounded and reports full and empty", "[ipc][ring]") {
  LocalRing local(5);  // rounded up to 8
  SpscRing& ring = *local.ring;
  REQUIRE(ring.capacity() == 8);
  std::uint64_t v = 0;
  REQUIRE_FALSE(ring.try_pop(v));
  for (std::uint64_t i = 0; i < 8; ++i) REQUIRE(ring.try_push(i));
  REQUIRE_FALSE(ring.try_push(99));
  REQUIRE(ring.size_approx() == 8);
  for (std::uint64_t i = 0; i < 8; ++i) {
    REQUIRE(ring.try_pop(v));
    REQUIRE(v == i);
  }
  REQUIRE_FALSE(ring.try_pop(v));
  // Wrap around many times.
  for (std::uint64_t i = 0; i < 100; ++i) {
    REQUIRE(ring.try_push(i * 3));
    REQUIRE(ring.try_pop(v));
    REQUIRE(v == i * 3);
  }
}

TEST_CASE("SpscRing stress: two threads pass a million values in order", "[ipc][ring][stress]") {
  LocalRing local(64);
  SpscRing& ring = *local.ring;
  constexpr std::uint64_t kCount = 1'000'000;
  std::thread producer([&] {
    for (std::uint64_t i = 0; i < kCount;)
      if (ring.try_push(i))
        ++i;
      else
        std::this_thread::yield();
  });
  std::uint64_t expected = 0;
  bool in_order = true;
  while (expected < kCount) {
    std::uint64_t v;
    if (ring.try_pop(v)) {
      in_order = in_order && v == expected;
      ++expected;
    } else {
      std::this_thread::yield();
    }
  }
  producer.join();
  REQUIRE(in_order);
}

TEST_CASE("Doorbell wakes a sleeping thread and never loses a ring", "[ipc][doorbell][stress]") {
  Doorbell bell;
  LocalRing local(16);
  SpscRing& ring = *local.ring;
  constexpr std::uint64_t kCount = 20'000;
  std::uint64_t got = 0, out_of_order = 0;
  std::thread consumer([&] {
    while (got < kCount) {
      std::uint64_t v;
      if (ring.try_pop(v)) {
        out_of_order += v != got;
        ++got;
        continue;
      }
      const std::uint32_t key = bell.prepare_wait();
      if (ring.size_approx() != 0) continue;
      // A lost wake-up sleeps here for the whole minute: the suite then runs into ctest's
      // timeout and fails, with no clock read by the test itself.
      bell.wait(key, std::chrono::minutes(1));
    }
  });
  for (std::uint64_t i = 0; i < kCount;) {
    if (ring.try_push(i)) {
      ++i;
      bell.ring();
    } else {
      std::this_thread::yield();
    }
  }
  consumer.join();
  CHECK(got == kCount);
  CHECK(out_of_order == 0);
}

TEST_CASE("SpscRing across processes in a real shared-memory segment", "[ipc][ring][process]") {
  const std::string name = unique_name("ring");
  const std::uint64_t bytes = align_up(SpscRing::bytes_for(256), 128) * 2 + 2 * sizeof(Doorbell);
  SharedSegment segment = SharedSegment::create(name, bytes);
  auto* to_child = SpscRing::construct(segment.base(), 256);
  auto* to_parent = SpscRing::construct(segment.base() + align_up(SpscRing::bytes_for(256), 128), 256);
  auto* bells = new (segment.base() + 2 * align_up(SpscRing::bytes_for(256), 128)) Doorbell[2];
  constexpr std::uint64_t kCount = 200'000;

  const pid_t child = ::fork();
  REQUIRE(child >= 0);
  if (child == 0) {
    // Child: map the segment anew by name (a different address), echo every value back doubled.
    SharedSegment mine = SharedSegment::open(name);
    auto* in = reinterpret_cast<SpscRing*>(mine.base());
    auto* out = reinterpret_cast<SpscRing*>(mine.base() + align_up(SpscRing::bytes_for(256), 128));
    auto* b = reinterpret_cast<Doorbell*>(mine.base() + 2 * align_up(SpscRing::bytes_for(256), 128));
    for (std::uint64_t n = 0; n < kCount;) {
      std::uint64_t v;
      const std::uint32_t key = b[0].prepare_wait();
      if (!in->try_pop(v)) {
        b[0].wait(key, std::chrono::milliseconds(100));
        continue;
      }
      while (!out->try_push(v * 2)) std::this_thread::yield();
      b[1].ring();
      ++n;
    }
    ::_exit(0);
  }
  std::uint64_t sent = 0, received = 0, sum = 0;
  while (received < kCount) {
    while (sent < kCount && to_child->try_push(sent)) {
      ++sent;
      bells[0].ring();
    }
    std::uint64_t v;
    const std::uint32_t key = bells[1].prepare_wait();
    if (to_parent->try_pop(v)) {
      REQUIRE(v == received * 2);
      sum += v;
      ++received;
    } else if (sent == kCount) {
      bells[1].wait(key, std::chrono::milliseconds(100));
    }
  }
  int status = 0;
  ::waitpid(child, &status, 0);
  SharedSegment::remove(name);
  REQUIRE(WIFEXITED(status));
  REQUIRE(WEXITSTATUS(status) == 0);
  REQUIRE(sum == kCount * (kCount - 1));
}

TEST_CASE("A killed consumer leaves the ring self-describing", "[ipc][ring][process][crash]") {
  const std::string name = unique_name("kill");
  SharedSegment segment = SharedSegment::create(name, align_up(SpscRing::bytes_for(1024), 128));
  auto* ring = SpscRing::construct(segment.base(), 1024);
  for (std::uint64_t i = 0; i < 1000; ++i) REQUIRE(ring->try_push(i));
  const pid_t child = ::fork();
  if (child == 0) {
    SharedSegment mine = SharedSegment::open(name);
    auto* r = reinterpret_cast<SpscRing*>(mine.base());
    std::uint64_t v;
    for (;;) {
      if (r->try_pop(v) && v == 499) ::pause();  // wait here to be killed after 500 pops
    }
  }
  while (ring->size_approx() > 500) std::this_thread::sleep_for(std::chrono::milliseconds(1));
  ::kill(child, SIGKILL);
  ::waitpid(child, nullptr, 0);
  // A successor consumer (this process) finds exactly the unconsumed entries, in order.
  REQUIRE(ring->size_approx() == 500);
  std::uint64_t v;
  for (std::uint64_t i = 500; i < 1000; ++i) {
    REQUIRE(ring->try_pop(v));
    REQUIRE(v == i);
  }
  REQUIRE_FALSE(ring->try_pop(v));
  SharedSegment::remove(name);
}

TEST_CASE("Segments are created 0600, pre-faulted and removable, and stale ones are cleaned up", "[ipc][segment]") {
  const std::string name = unique_name("seg");
  {
    SharedSegment s = SharedSegment::create(name, 1 << 20);
    REQUIRE(s.size() == (1u << 20));
    REQUIRE(static_cast<int>(s.base()[12345]) == 0);
    struct stat st {};
    REQUIRE(::stat(("/dev/shm/" + name).c_str(), &st) == 0);
    REQUIRE((st.st_mode & 0777) == 0600);
    REQUIRE_THROWS_WITH(SharedSegment::create(name, 4096), Catch::Contains(name));
  }
  REQUIRE(SharedSegment::remove(name));
  REQUIRE_FALSE(SharedSegment::remove(name));
  REQUIRE_THROWS(SharedSegment::open(name));

  // A segment named after a pid that no longer exists is stale.
  const pid_t gone = ::fork();
  if (gone == 0) ::_exit(0);
  ::waitpid(gone, nullptr, 0);
  const std::string stale = std::string(kSegmentPrefix) + std::to_string(gone) + "-test-stale";
  SharedSegment::create(stale, 4096);
  const std::string live = unique_name("live");
  SharedSegment::create(live, 4096);
  // A segment named after this process's pid with another start time: the pid was reused, the
  // creator is gone. With this process's own start time: live.
  const std::string mine = segment_prefix() + "test-mine";
  SharedSegment::create(mine, 4096);
  const std::string reused = std::string(kSegmentPrefix) + std::to_string(::getpid()) + "." +
                             std::to_string(process_start_time(::getpid()) - 1) + "-test-reused";
  SharedSegment::create(reused, 4096);
  const auto removed = remove_stale_segments();
  CHECK(std::find(removed.begin(), removed.end(), stale) != removed.end());
  CHECK(std::find(removed.begin(), removed.end(), live) == removed.end());
  CHECK(std::find(removed.begin(), removed.end(), reused) != removed.end());
  CHECK(std::find(removed.begin(), removed.end(), mine) == removed.end());
  REQUIRE(SharedSegment::remove(live));
  REQUIRE(SharedSegment::remove(mine));
}

TEST_CASE("a process is known by its pid and start time", "[ipc][segment]") {
  const std::uint64_t mine = process_start_time(::getpid());
  CHECK(mine > 0);
  CHECK(process_start_time(::getpid()) == mine);  // the same process, asked again
  const pid_t child = ::fork();
  if (child == 0) {
    ::pause();
    ::_exit(0);
  }
  CHECK(process_start_time(child) >= mine);  // started after this process
  ::kill(child, SIGKILL);
  ::waitpid(child, nullptr, 0);
  CHECK(process_start_time(child) == 0);  // reaped: no such process
  CHECK(segment_prefix() ==
        std::string(kSegmentPrefix) + std::to_string(::getpid()) + "." + std::to_string(mine) + "-");
}
