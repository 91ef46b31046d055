#include "edgarpipe/ipc/chunk_pool.hpp"

#include <algorithm>
#include <cassert>
#include <stdexcept>

#include "edgarpipe/ipc/shared_segment.hpp"

namespace edgarpipe::ipc {

namespace {
constexpr std::uint64_t kPoolMagic = 0x4c4f4f50'45504745ULL;  // "EGPEPOOL"
constexpr std::uint64_t kPage = 4096;
}  // namespace

struct ChunkPool::Header {
  std::uint64_t magic;
  std::uint16_t pool_id;
  std::uint32_t class_count;
  std::uint32_t chunk_count;
  SizeClass classes[kMaxSizeClasses];
  std::uint32_t first_index[kMaxSizeClasses];
  std::uint64_t eager_bytes;  // the prefix to pre-fault: all, or all before a lazy last class
};

// The header takes the first page; descriptors follow, then the page-aligned payloads.
static constexpr std::uint64_t descriptors_offset() noexcept { return 4096; }

std::uint64_t ChunkPool::bytes_for(std::span<const SizeClass> classes) noexcept {
  std::uint64_t count = 0;
  for (const auto& c : classes) count += c.count;
  std::uint64_t bytes = align_up(descriptors_offset() + count * sizeof(ChunkDescriptor), kPage);
  for (const auto& c : classes) bytes += c.count * align_up(c.chunk_bytes + kTailPadding, kPage);
  return bytes;
}

ChunkPool::Header& ChunkPool::header() const noexcept { return *reinterpret_cast<Header*>(base_); }

ChunkPool ChunkPool::format(std::byte* base, std::uint16_t pool_id, std::span<const SizeClass> classes,
                            bool lazy_last_class) {
  static_assert(sizeof(Header) <= 4096);
  if (classes.empty() || classes.size() > kMaxSizeClasses)
    throw std::invalid_argument("chunk pool: 1 to 8 size classes");
  ChunkPool pool(base);
  Header& h = *new (base) Header{};
  h.pool_id = pool_id;
  h.class_count = static_cast<std::uint32_t>(classes.size());
  std::uint64_t count = 0;
  for (std::size_t i = 0; i < classes.size(); ++i) {
    if (classes[i].chunk_bytes % kPage != 0 || classes[i].count == 0)
      throw std::invalid_argument("chunk pool: chunk sizes must be multiples of 4096 and counts positive");
    if (i > 0 && classes[i].chunk_bytes <= classes[i - 1].chunk_bytes)
      throw std::invalid_argument("chunk pool: size classes must grow");
    h.classes[i] = classes[i];
    h.first_index[i] = static_cast<std::uint32_t>(count);
    count += classes[i].count;
  }
  if (count > 0xFFFF) throw std::invalid_argument("chunk pool: at most 65535 chunks");
  h.chunk_count = static_cast<std::uint32_t>(count);
  std::uint64_t data = align_up(descriptors_offset() + count * sizeof(ChunkDescriptor), kPage);
  std::uint16_t index = 0;
  for (std::uint32_t c = 0; c < h.class_count; ++c) {
    if (c + 1 == h.class_count) h.eager_bytes = lazy_last_class ? data : bytes_for(classes);
    for (std::uint32_t k = 0; k < classes[c].count; ++k, ++index) {
      auto* d = new (base + descriptors_offset() + index * sizeof(ChunkDescriptor)) ChunkDescriptor{};
      d->data_offset = data;
      d->capacity = classes[c].chunk_bytes;
      d->size_class = c;
      d->state.store(ChunkDescriptor::pack(ChunkState::kFree, 0, 0), std::memory_order_relaxed);
      data += align_up(classes[c].chunk_bytes + kTailPadding, kPage);
    }
  }
  std::atomic_thread_fence(std::memory_order_release);
  h.magic = kPoolMagic;
  return pool;
}

ChunkPool ChunkPool::attach(std::byte* base) {
  ChunkPool pool(base);
  if (pool.header().magic != kPoolMagic) throw std::runtime_error("chunk pool: segment is not a formatted pool");
  return pool;
}

std::uint16_t ChunkPool::pool_id() const noexcept { return header().pool_id; }
std::uint32_t ChunkPool::chunk_count() const noexcept { return header().chunk_count; }
std::uint32_t ChunkPool::class_count() const noexcept { return header().class_count; }
SizeClass ChunkPool::size_class(std::uint32_t i) const noexcept { return header().classes[i]; }
std::uint64_t ChunkPool::largest_chunk() const noexcept {
  return header().classes[header().class_count - 1].chunk_bytes;
}

ChunkDescriptor& ChunkPool::descriptor(std::uint16_t index) const noexcept {
  return *reinterpret_cast<ChunkDescriptor*>(base_ + descriptors_offset() + index * sizeof(ChunkDescriptor));
}

std::byte* ChunkPool::data(ChunkHandle h) const noexcept { return base_ + descriptor_of(h).data_offset; }

ChunkHandle ChunkPool::current_handle(std::uint16_t index) const noexcept {
  const auto word = descriptor(index).state.load(std::memory_order_acquire);
  return make_handle(ChunkDescriptor::generation_of(word), pool_id(), index);
}

bool ChunkPool::transition(ChunkHandle h, ChunkState from, ChunkState to, std::uint32_t owner, bool check_owner,
                           std::uint32_t expected_owner, std::memory_order order) const noexcept {
  if (handle_pool(h) != pool_id() || handle_index(h) >= chunk_count()) return false;
  auto& state = descriptor_of(h).state;
  std::uint64_t word = state.load(std::memory_order_acquire);
  if (ChunkDescriptor::state_of(word) != from || ChunkDescriptor::generation_of(word) != handle_generation(h))
    return false;
  if (check_owner && ChunkDescriptor::owner_of(word) != expected_owner) return false;
  const std::uint64_t next = ChunkDescriptor::pack(to, owner, handle_generation(h));
  return state.compare_exchange_strong(word, next, order, std::memory_order_relaxed);
}

bool ChunkPool::begin_fill(ChunkHandle h, OwnerId producer) const noexcept {
  return transition(h, ChunkState::kFree, ChunkState::kFilling, producer.packed(), false, 0, std::memory_order_acq_rel);
}

bool ChunkPool::publish(ChunkHandle h, std::uint64_t length, OwnerId producer) const noexcept {
  if (length > descriptor_of(h).capacity) return false;
  descriptor_of(h).length = length;
  // Release: the payload and length happen-before any claim that observes PUBLISHED.
  return transition(h, ChunkState::kFilling, ChunkState::kPublished, producer.packed(), true, producer.packed(),
                    std::memory_order_release);
}

bool ChunkPool::claim(ChunkHandle h, OwnerId consumer) const noexcept {
  return transition(h, ChunkState::kPublished, ChunkState::kClaimed, consumer.packed(), false, 0,
                    std::memory_order_acquire);
}

bool ChunkPool::retire(ChunkHandle h, OwnerId consumer) const noexcept {
  return transition(h, ChunkState::kClaimed, ChunkState::kReturned, consumer.packed(), true, consumer.packed(),
                    std::memory_order_release);
}

std::optional<ChunkHandle> ChunkPool::recycle(ChunkHandle h) const noexcept {
  if (handle_pool(h) != pool_id() || handle_index(h) >= chunk_count()) return std::nullopt;
  auto& state = descriptor_of(h).state;
  std::uint64_t word = state.load(std::memory_order_acquire);
  const auto s = ChunkDescriptor::state_of(word);
  if ((s != ChunkState::kReturned && s != ChunkState::kFilling) ||
      ChunkDescriptor::generation_of(word) != handle_generation(h))
    return std::nullopt;
  const std::uint32_t generation = handle_generation(h) + 1;
  if (!state.compare_exchange_strong(word, ChunkDescriptor::pack(ChunkState::kFree, 0, generation),
                                     std::memory_order_acq_rel))
    return std::nullopt;
  return make_handle(generation, pool_id(), handle_index(h));
}

ChunkAllocator::ChunkAllocator(ChunkPool pool) : pool_(pool), free_(pool.class_count()) {
  // Rebuilt from the ownership records: only chunks that are FREE now are ours to hand out.
  for (std::uint32_t i = pool_.chunk_count(); i-- > 0;) {
    const auto word = pool_.descriptor(static_cast<std::uint16_t>(i)).state.load(std::memory_order_acquire);
    if (ChunkDescriptor::state_of(word) == ChunkState::kFree)
      free_[pool_.descriptor(static_cast<std::uint16_t>(i)).size_class].push_back(static_cast<std::uint16_t>(i));
  }
}

std::optional<ChunkHandle> ChunkAllocator::acquire(std::uint64_t bytes, OwnerId owner) {
  const std::uint32_t classes = pool_.class_count();
  std::uint32_t first = 0;
  while (first < classes && pool_.size_class(first).chunk_bytes < bytes) ++first;
  if (first == classes) return std::nullopt;
  // The smallest fitting class, then one class up, but never the largest class for a payload a
  // smaller class could hold.
  const std::uint32_t last = (first + 1 < classes - 1) ? first + 1 : first;
  for (std::uint32_t c = first; c <= last; ++c) {
    auto& list = free_[c];
    if (list.empty()) continue;
    const std::uint16_t index = list.back();
    const ChunkHandle h = pool_.current_handle(index);
    // A chunk on this producer's free list is FREE: only its producer moves it out of FREE.
    const bool filling = pool_.begin_fill(h, owner);
    assert(filling && "a chunk on the free list was not FREE");
    if (!filling) continue;
    list.pop_back();
    return h;
  }
  return std::nullopt;
}

bool ChunkAllocator::recycle(ChunkHandle h) {
  const auto fresh = pool_.recycle(h);
  if (!fresh) return false;
  free_[pool_.descriptor_of(*fresh).size_class].push_back(handle_index(*fresh));
  return true;
}

std::uint32_t ChunkAllocator::free_count() const noexcept {
  std::uint32_t n = 0;
  for (const auto& l : free_) n += static_cast<std::uint32_t>(l.size());
  return n;
}

std::uint64_t ChunkPool::eager_bytes() const noexcept { return header().eager_bytes; }

SharedSegment open_pool_segment(const std::string& name, PoolRole role) {
  SharedSegment segment = SharedSegment::open(name, SharedSegment::Populate::kNone);
  if (role == PoolRole::kProducer) segment.map_populated(ChunkPool::attach(segment.base()).eager_bytes());
  return segment;
}

}  // namespace edgarpipe::ipc
