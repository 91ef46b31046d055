// Multi-process stress of the shared-memory core as the pipeline uses it: several producer
// processes, each with its own chunk pool, several consumer processes, one SPSC ring per pair and
// direction, doorbells for sleeping. Then kill -9 at random instants: the survivors go on and the
// ownership records show exactly what the dead process held.
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <catch2/catch.hpp>
#include <chrono>
#include <cstring>
#include <optional>
#include <random>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "edgarpipe/ipc/chunk_pool.hpp"
#include "edgarpipe/ipc/doorbell.hpp"
#include "edgarpipe/ipc/shared_segment.hpp"
#include "edgarpipe/ipc/spsc_ring.hpp"

using namespace edgarpipe::ipc;

namespace {

#if defined(__SANITIZE_THREAD__) || defined(__SANITIZE_ADDRESS__)
constexpr std::uint64_t kScale = 20;  // instrumentation makes every access much slower
#else
constexpr std::uint64_t kScale = 1;
#endif

const SizeClass kClasses[] = {{4096, 32}, {64 * 1024, 8}};
constexpr std::uint32_t kRingCapacity = 64;  // >= chunks per pool: a push never fails
constexpr std::uint32_t kMaxProcs = 8;

std::uint64_t checksum(const std::byte* p, std::size_t n) noexcept {
  std::uint64_t h = 0x9E3779B97F4A7C15ULL;
  std::size_t i = 0;
  for (; i + 8 <= n; i += 8) {
    std::uint64_t w;
    std::memcpy(&w, p + i, 8);
    h = (h ^ w) * 0x100000001B3ULL;
    h ^= h >> 29;
  }
  for (; i < n; ++i) h = (h ^ static_cast<std::uint64_t>(p[i])) * 0x100000001B3ULL;
  return h;
}

// Everything but the pools, in one segment.
struct Control {
  std::uint32_t producers, consumers;
  std::uint64_t messages_per_producer;
  std::atomic<std::uint32_t> failures{0};
  std::atomic<std::uint32_t> producer_done[kMaxProcs]{};
  Doorbell bells[2 * kMaxProcs];  // producer p: bells[p]; consumer c: bells[kMaxProcs + c]
};

class Topology {
 public:
  Topology(std::uint32_t producers, std::uint32_t consumers, std::uint64_t messages) {
    tag_ = std::to_string(::getpid()) + "-stress-" + std::to_string(std::random_device{}());
    ring_stride_ = align_up(SpscRing::bytes_for(kRingCapacity), 128);
    bitmap_words_ = (messages + 63) / 64;
    const std::uint64_t bytes =
        rings_offset() + 2ULL * producers * consumers * ring_stride_ + std::uint64_t{producers} * bitmap_words_ * 8;
    control_segment_.emplace(SharedSegment::create(name("ctl"), bytes));
    auto* c = new (control_segment_->base()) Control;
    c->producers = producers;
    c->consumers = consumers;
    c->messages_per_producer = messages;
    for (std::uint32_t p = 0; p < producers; ++p) {
      pools_.push_back(SharedSegment::create(name("pool" + std::to_string(p)), ChunkPool::bytes_for(kClasses)));
      ChunkPool::format(pools_.back().base(), static_cast<std::uint16_t>(p + 1), kClasses);
      for (std::uint32_t k = 0; k < consumers; ++k) {
        SpscRing::construct(&forward(p, k), kRingCapacity);
        SpscRing::construct(&back(p, k), kRingCapacity);
      }
    }
  }
  ~Topology() {
    SharedSegment::remove(name("ctl"));
    for (std::size_t p = 0; p < pools_.size(); ++p) SharedSegment::remove(name("pool" + std::to_string(p)));
  }

  Control& control() const { return *reinterpret_cast<Control*>(control_segment_->base()); }
  ChunkPool pool(std::uint32_t p) const { return ChunkPool::attach(pools_[p].base()); }
  SpscRing& forward(std::uint32_t p, std::uint32_t c) const { return ring(p, c, 0); }
  SpscRing& back(std::uint32_t p, std::uint32_t c) const { return ring(p, c, 1); }
  Doorbell& producer_bell(std::uint32_t p) const { return control().bells[p]; }
  Doorbell& consumer_bell(std::uint32_t c) const { return control().bells[kMaxProcs + c]; }
  std::atomic<std::uint64_t>& seen_word(std::uint32_t p, std::uint64_t seq) const {
    auto* words = reinterpret_cast<std::atomic<std::uint64_t>*>(
        control_segment_->base() + rings_offset() + 2ULL * control().producers * control().consumers * ring_stride_);
    return words[p * bitmap_words_ + seq / 64];
  }

  // Producer p: sends its messages with random sizes and a checksum, routing each to the
  // consumer with the fewest outstanding chunks (skipping `dead` consumers), then waits for all
  // its chunks to come back unless told to stop early.
  int run_producer(std::uint32_t p, std::uint64_t seed, const std::atomic<bool>* dead = nullptr,
                   std::vector<std::uint64_t>* final_outstanding = nullptr) const {
    ChunkPool view = pool(p);
    ChunkAllocator alloc(view);
    const OwnerId me{static_cast<std::uint8_t>(p + 1), 1};
    std::mt19937_64 rng(seed);
    std::vector<std::uint64_t> outstanding(control().consumers, 0);
    const std::uint32_t consumers = control().consumers;
    auto drain = [&] {
      bool any = false;
      for (std::uint32_t c = 0; c < consumers; ++c) {
        std::uint64_t h;
        while (back(p, c).try_pop(h)) {
          --outstanding[c];
          if (!alloc.recycle(h)) control().failures.fetch_add(1);
          any = true;
        }
      }
      return any;
    };
    for (std::uint64_t seq = 0; seq < control().messages_per_producer; ++seq) {
      const std::uint64_t size = (rng() % 10 == 0) ? 4097 + rng() % (60 * 1024) : 16 + rng() % 4000;
      std::optional<ChunkHandle> h;
      while (!(h = alloc.acquire(size, me))) {
        const std::uint32_t key = producer_bell(p).prepare_wait();
        if (!drain()) producer_bell(p).wait(key, std::chrono::milliseconds(50));
      }
      std::byte* data = view.data(*h);
      for (std::uint64_t i = 8; i + 8 <= size; i += 8) {
        const std::uint64_t r = rng();
        std::memcpy(data + i, &r, 8);
      }
      for (std::uint64_t i = size - size % 8; i < size; ++i) data[i] = static_cast<std::byte>(seq);
      const std::uint64_t sum = checksum(data + 8, size - 8);
      std::memcpy(data, &sum, 8);
      view.descriptor_of(*h).tag = seq;
      if (!view.publish(*h, size, me)) return 3;
      std::uint32_t target = consumers;
      for (std::uint32_t c = 0; c < consumers; ++c)
        if (dead == nullptr || !dead[c].load())
          if (target == consumers || outstanding[c] < outstanding[target]) target = c;
      ++outstanding[target];
      if (!forward(p, target).try_push(*h)) return 4;
      consumer_bell(target).ring();
      drain();
    }
    control().producer_done[p].store(1, std::memory_order_release);
    for (std::uint32_t c = 0; c < consumers; ++c) consumer_bell(c).ring();
    for (;;) {
      std::uint64_t pending = 0;  // chunks with live consumers; a dead one's are the test's to count
      for (std::uint32_t c = 0; c < consumers; ++c)
        if (dead == nullptr || !dead[c].load()) pending += outstanding[c];
      if (pending == 0) {
        drain();
        if (final_outstanding) *final_outstanding = outstanding;
        return 0;
      }
      const std::uint32_t key = producer_bell(p).prepare_wait();
      if (!drain()) producer_bell(p).wait(key, std::chrono::milliseconds(50));
    }
  }

  // Consumer c: verifies every payload in place, marks (producer, seq) seen exactly once, and
  // gives the chunk back. `hold` keeps each chunk claimed that long (for the kill tests).
  int run_consumer(std::uint32_t c, std::chrono::microseconds hold = {}) const {
    const std::uint32_t producers = control().producers;
    std::vector<ChunkPool> views;
    for (std::uint32_t p = 0; p < producers; ++p) views.push_back(pool(p));
    const OwnerId me{static_cast<std::uint8_t>(100 + c), 1};
    for (;;) {
      bool any = false;
      for (std::uint32_t p = 0; p < producers; ++p) {
        std::uint64_t h;
        if (!forward(p, c).try_peek(h)) continue;
        any = true;
        const ChunkPool& view = views[p];
        if (!view.claim(h, me)) control().failures.fetch_add(1);
        forward(p, c).pop();  // claimed first: no instant where the chunk has no recorded holder
        const auto& d = view.descriptor_of(h);
        std::uint64_t sum;
        std::memcpy(&sum, view.data(h), 8);
        if (sum != checksum(view.data(h) + 8, d.length - 8)) control().failures.fetch_add(1);
        const std::uint64_t bit = 1ULL << (d.tag % 64);
        if (seen_word(p, d.tag).fetch_or(bit) & bit) control().failures.fetch_add(1);  // duplicate
        if (hold.count() > 0) std::this_thread::sleep_for(hold);
        if (!view.retire(h, me)) control().failures.fetch_add(1);
        if (!back(p, c).try_push(h)) control().failures.fetch_add(1);
        producer_bell(p).ring();
      }
      if (any) continue;
      const std::uint32_t key = consumer_bell(c).prepare_wait();
      bool done = true;
      for (std::uint32_t p = 0; p < producers; ++p)
        done = done && control().producer_done[p].load(std::memory_order_acquire) && forward(p, c).size_approx() == 0;
      if (done) return 0;
      consumer_bell(c).wait(key, std::chrono::milliseconds(50));
    }
  }

  bool all_seen(std::uint32_t p) const {
    for (std::uint64_t seq = 0; seq < control().messages_per_producer; ++seq)
      if (!(seen_word(p, seq).load() & (1ULL << (seq % 64)))) return false;
    return true;
  }

 private:
  std::string name(const std::string& what) const { return std::string(kSegmentPrefix) + tag_ + "-" + what; }
  std::uint64_t rings_offset() const { return align_up(sizeof(Control), 128); }
  SpscRing& ring(std::uint32_t p, std::uint32_t c, int dir) const {
    const std::uint64_t index = (std::uint64_t{p} * control().consumers + c) * 2 + static_cast<std::uint64_t>(dir);
    return *reinterpret_cast<SpscRing*>(control_segment_->base() + rings_offset() + index * ring_stride_);
  }

  std::string tag_;
  std::uint64_t ring_stride_ = 0, bitmap_words_ = 0;
  std::optional<SharedSegment> control_segment_;
  std::vector<SharedSegment> pools_;
};

template <class F>
pid_t spawn(F&& body) {
  const pid_t pid = ::fork();
  if (pid == 0) ::_exit(body());
  return pid;
}

int wait_exit(pid_t pid) {
  int status = 0;
  ::waitpid(pid, &status, 0);
  return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}

}  // namespace

TEST_CASE("stress: 3 producer and 2 consumer processes, a million checksummed hand-offs", "[ipc][stress][process]") {
  constexpr std::uint32_t kProducers = 3, kConsumers = 2;
  const std::uint64_t messages = 350'000 / kScale;  // per producer
  Topology t(kProducers, kConsumers, messages);
  std::vector<pid_t> pids;
  for (std::uint32_t c = 0; c < kConsumers; ++c) pids.push_back(spawn([&] { return t.run_consumer(c); }));
  for (std::uint32_t p = 0; p < kProducers; ++p) pids.push_back(spawn([&] { return t.run_producer(p, 1000 + p); }));
  for (pid_t pid : pids) CHECK(wait_exit(pid) == 0);
  CHECK(t.control().failures.load() == 0);  // no bad checksum, no duplicate, no refused transition
  for (std::uint32_t p = 0; p < kProducers; ++p) {
    CHECK(t.all_seen(p));  // no loss
    // Every chunk is back and FREE: nothing leaked in any state.
    const ChunkPool pool = t.pool(p);
    for (std::uint16_t i = 0; i < pool.chunk_count(); ++i)
      REQUIRE(ChunkDescriptor::state_of(pool.descriptor(i).state.load()) == ChunkState::kFree);
  }
}

TEST_CASE("kill -9 of a consumer: the other goes on, the records show exactly what it held", "[ipc][crash][process]") {
  std::uint64_t held_in_all_trials = 0;
  for (std::uint64_t trial = 0; trial < 6; ++trial) {
    INFO("trial " << trial);
    const std::uint64_t messages = 3'000 / kScale + 500;
    Topology t(1, 2, messages);
    std::mt19937_64 rng(trial);
    // Consumers hold each chunk 100 us, so the victim dies holding some, at a random instant.
    const pid_t victim = spawn([&] { return t.run_consumer(0, std::chrono::microseconds(100)); });
    const pid_t survivor = spawn([&] { return t.run_consumer(1, std::chrono::microseconds(100)); });
    std::atomic<bool> dead[2] = {false, false};
    std::vector<std::uint64_t> outstanding;
    int producer_status = -1;
    std::thread producer([&] { producer_status = t.run_producer(0, trial, dead, &outstanding); });
    std::this_thread::sleep_for(std::chrono::milliseconds(5 + rng() % 40));
    ::kill(victim, SIGKILL);
    CHECK(wait_exit(victim) == 128 + SIGKILL);
    dead[0] = true;  // as the supervisor would on SIGCHLD: route nothing more to it
    t.consumer_bell(1).ring();
    producer.join();
    CHECK(producer_status == 0);
    CHECK(wait_exit(survivor) == 0);  // the survivor finished everything routed to it
    CHECK(t.control().failures.load() == 0);

    // Take stock as a supervisor would: what the ring to the victim still holds, what the records
    // say the victim claimed, and chunks it retired but never got onto the return ring.
    const ChunkPool pool = t.pool(0);
    std::set<std::uint16_t> in_ring, claimed, orphaned;
    t.forward(0, 0).for_each_unconsumed([&](std::uint64_t h) { in_ring.insert(handle_index(h)); });
    const OwnerId victim_id{100, 1};
    for (std::uint16_t i = 0; i < pool.chunk_count(); ++i) {
      const std::uint64_t word = pool.descriptor(i).state.load();
      const auto state = ChunkDescriptor::state_of(word);
      if (in_ring.count(i))
        CHECK(state == ChunkState::kPublished);
      else if (state == ChunkState::kClaimed && ChunkDescriptor::owner_of(word) == victim_id.packed())
        claimed.insert(i);
      else if (state == ChunkState::kReturned)
        orphaned.insert(i);
      else
        CHECK(state == ChunkState::kFree);  // nothing else is unaccounted for
    }
    CHECK(claimed.size() <= 1);   // a consumer holds one chunk at a time
    CHECK(orphaned.size() <= 1);  // killed between retire and the push back
    // Exactly: the producer's own count of chunks it sent the victim and never got back.
    CHECK(outstanding.at(0) == in_ring.size() + claimed.size() + orphaned.size());
    // The messages never seen are those left in the victim's ring, plus the one it had claimed if
    // it died before looking at it (delivery to a dead consumer is at-least-once territory).
    std::uint64_t unseen = 0;
    for (std::uint64_t seq = 0; seq < messages; ++seq) unseen += !(t.seen_word(0, seq).load() & (1ULL << (seq % 64)));
    CHECK(unseen >= in_ring.size());
    CHECK(unseen <= in_ring.size() + claimed.size());
    held_in_all_trials += in_ring.size() + claimed.size();
  }
  CHECK(held_in_all_trials > 0);  // the kills did land while the victim held chunks
}

TEST_CASE("kill -9 of a producer: its published chunks stay valid, it held at most the one it was filling",
          "[ipc][crash][process]") {
  for (std::uint64_t trial = 0; trial < 6; ++trial) {
    INFO("trial " << trial);
    const std::uint64_t messages = 1'000'000;  // never finishes: it is killed first
    Topology t(1, 1, messages);
    std::mt19937_64 rng(100 + trial);
    const pid_t producer = spawn([&] { return t.run_producer(0, trial); });
    std::this_thread::sleep_for(std::chrono::milliseconds(5 + rng() % 30));
    ::kill(producer, SIGKILL);
    CHECK(wait_exit(producer) == 128 + SIGKILL);
    // The consumer (this process, started late) drains everything the dead producer published:
    // every payload is whole and checksums match.
    t.control().producer_done[0].store(1);
    CHECK(t.run_consumer(0) == 0);
    CHECK(t.control().failures.load() == 0);
    const ChunkPool pool = t.pool(0);
    const OwnerId producer_id{1, 1};
    // The producer handles one chunk at a time (acquire, fill, publish, push), so it held at most
    // one: FILLING, or PUBLISHED but killed before the push (in no ring), both with its owner id.
    int held = 0;
    for (std::uint16_t i = 0; i < pool.chunk_count(); ++i) {
      const std::uint64_t word = pool.descriptor(i).state.load();
      const auto state = ChunkDescriptor::state_of(word);
      if (state == ChunkState::kFilling || state == ChunkState::kPublished) {
        CHECK(ChunkDescriptor::owner_of(word) == producer_id.packed());
        ++held;
      } else {
        CHECK((state == ChunkState::kFree || state == ChunkState::kReturned));
      }
    }
    CHECK(held <= 1);
    // Recovery: a successor producer rebuilds its free list from the records; the abandoned
    // FILLING chunk and the RETURNED ones go back too, and the pool is whole again.
    ChunkAllocator successor(pool);
    for (std::uint16_t i = 0; i < pool.chunk_count(); ++i) {
      const auto state = ChunkDescriptor::state_of(pool.descriptor(i).state.load());
      if (state == ChunkState::kFilling || state == ChunkState::kReturned) {
        CHECK(successor.recycle(pool.current_handle(i)));
      } else if (state == ChunkState::kPublished) {  // published into no ring: take it back
        const ChunkHandle h = pool.current_handle(i);
        CHECK(pool.claim(h, OwnerId{9, 9}));
        CHECK(pool.retire(h, OwnerId{9, 9}));
        CHECK(successor.recycle(h));
      }
    }
    CHECK(successor.free_count() == pool.chunk_count());
  }
}
