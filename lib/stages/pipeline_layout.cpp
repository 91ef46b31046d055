#include "edgarpipe/stages/pipeline_layout.hpp"

#include <cstring>
#include <stdexcept>

#include "edgarpipe/input/sources.hpp"

namespace edgarpipe {

namespace {
constexpr std::uint64_t kControlMagic = 0x4c52544345504745ULL;  // "EGPECTRL"
constexpr std::uint32_t kControlVersion = 3;

struct Offsets {
  std::uint64_t manifest, strings, slots, bells, rings, raw_stride, batch_stride, total;
};

Offsets plan(const PipelineShape& shape, std::uint64_t file_count, std::uint64_t string_bytes) {
  using ipc::align_up;
  Offsets o{};
  o.manifest = align_up(sizeof(ControlHeader), 128);
  o.strings = align_up(o.manifest + file_count * sizeof(FileEntry), 128);
  o.slots = align_up(o.strings + string_bytes, 128);
  const std::uint64_t slots = shape.readers + shape.parsers + shape.writers;
  o.bells = o.slots + slots * sizeof(ipc::ProcessSlot);
  o.rings = align_up(o.bells + slots * sizeof(ipc::Doorbell), 128);
  o.raw_stride = align_up(ipc::SpscRing::bytes_for(shape.raw_chunks_per_reader), 128);
  o.batch_stride = align_up(ipc::SpscRing::bytes_for(shape.batch_chunks_per_parser), 128);
  o.total = o.rings + 2 * std::uint64_t{shape.readers} * shape.parsers * o.raw_stride +
            2 * std::uint64_t{shape.parsers} * shape.writers * o.batch_stride;
  return o;
}

std::uint64_t string_bytes(const std::vector<InputFile>& files) {
  std::uint64_t n = 0;
  for (const auto& f : files) n += f.path.size() + f.source_file.size() + f.source_path.size() + f.open_error.size();
  return n;
}
}  // namespace

std::string_view role_name(Role r) noexcept {
  switch (r) {
    case Role::kReader:
      return "reader";
    case Role::kParser:
      return "parser";
    case Role::kWriter:
      return "writer";
  }
  return "?";
}

std::uint64_t PipelineLayout::bytes_for(const PipelineShape& shape, const std::vector<InputFile>& files) {
  return plan(shape, files.size(), string_bytes(files)).total;
}

PipelineLayout PipelineLayout::format(std::byte* base, const PipelineShape& shape, const std::vector<InputFile>& files,
                                      std::string_view run_name) {
  const Offsets o = plan(shape, files.size(), string_bytes(files));
  auto* h = new (base) ControlHeader{};
  h->version = kControlVersion;
  h->readers = shape.readers;
  h->parsers = shape.parsers;
  h->writers = shape.writers;
  h->raw_ring_capacity = shape.raw_chunks_per_reader;
  h->batch_ring_capacity = shape.batch_chunks_per_parser;
  h->file_count = files.size();
  h->run_id = 0;
  if (run_name.size() >= sizeof h->run_name) throw std::invalid_argument("run name too long");
  std::memcpy(h->run_name, run_name.data(), run_name.size());
  h->manifest_offset = o.manifest;
  h->strings_offset = o.strings;
  h->slots_offset = o.slots;
  h->bells_offset = o.bells;
  h->rings_offset = o.rings;
  h->raw_ring_stride = o.raw_stride;
  h->batch_ring_stride = o.batch_stride;
  h->stop.store(0, std::memory_order_relaxed);
  h->next_file.store(0, std::memory_order_relaxed);

  std::uint64_t cursor = o.strings;
  for (std::size_t i = 0; i < files.size(); ++i) {
    const InputFile& in = files[i];
    auto* e = new (base + o.manifest + i * sizeof(FileEntry)) FileEntry{};
    e->path_offset = cursor;
    e->path_length = static_cast<std::uint32_t>(in.path.size());
    std::memcpy(base + cursor, in.path.data(), in.path.size());
    cursor += in.path.size();
    e->source_offset = cursor;
    e->source_length = static_cast<std::uint32_t>(in.source_file.size());
    std::memcpy(base + cursor, in.source_file.data(), in.source_file.size());
    cursor += in.source_file.size();
    e->source_path_offset = cursor;
    e->source_path_length = static_cast<std::uint32_t>(in.source_path.size());
    std::memcpy(base + cursor, in.source_path.data(), in.source_path.size());
    cursor += in.source_path.size();
    e->key_cik = in.key_cik;
    e->key_page = in.key_page;
    e->error_offset = cursor;
    e->error_length = static_cast<std::uint32_t>(in.open_error.size());
    std::memcpy(base + cursor, in.open_error.data(), in.open_error.size());
    cursor += in.open_error.size();
    e->zip_member = in.zip_member;
    e->size = in.size;
    e->hint = in.hint;
    e->forced = in.forced;
    e->reload = in.reload;
    // One key has at most one loaded row per dataset (and no hint leaves two datasets open).
    for (std::size_t k = 0; k < in.known.size() && k < 2; ++k) {
      e->known_hashes[k] = in.known[k].hash;
      e->known_datasets[k] = in.known[k].dataset;
    }
    e->known_count = static_cast<std::uint8_t>(std::min<std::size_t>(in.known.size(), 2));
  }
  const std::uint32_t slots = shape.readers + shape.parsers + shape.writers;
  for (std::uint32_t s = 0; s < slots; ++s) {
    new (base + o.slots + s * sizeof(ipc::ProcessSlot)) ipc::ProcessSlot{};
    new (base + o.bells + s * sizeof(ipc::Doorbell)) ipc::Doorbell{};
  }
  PipelineLayout layout(base);
  for (std::uint32_t a = 0; a < shape.readers; ++a)
    for (std::uint32_t b = 0; b < shape.parsers; ++b) {
      ipc::SpscRing::construct(&layout.raw(a, b), shape.raw_chunks_per_reader);
      ipc::SpscRing::construct(&layout.raw_return(a, b), shape.raw_chunks_per_reader);
    }
  for (std::uint32_t a = 0; a < shape.parsers; ++a)
    for (std::uint32_t b = 0; b < shape.writers; ++b) {
      ipc::SpscRing::construct(&layout.batch(a, b), shape.batch_chunks_per_parser);
      ipc::SpscRing::construct(&layout.batch_return(a, b), shape.batch_chunks_per_parser);
    }
  for (std::uint32_t s = 0; s < slots; ++s) {
    auto& slot = layout.slot(s);
    const bool reader = s < shape.readers, parser = !reader && s < shape.readers + shape.parsers;
    slot.role.store(static_cast<std::uint32_t>(reader ? Role::kReader : parser ? Role::kParser : Role::kWriter));
    slot.index.store(reader ? s : parser ? s - shape.readers : s - shape.readers - shape.parsers);
  }
  std::atomic_thread_fence(std::memory_order_release);
  h->magic = kControlMagic;
  return layout;
}

PipelineLayout PipelineLayout::attach(std::byte* base) {
  PipelineLayout layout(base);
  if (layout.header().magic != kControlMagic || layout.header().version != kControlVersion)
    throw std::runtime_error("control segment has the wrong magic or version (mixed edgarpipe builds?)");
  return layout;
}

std::uint32_t PipelineLayout::slot_of(Role role, std::uint32_t index) const noexcept {
  switch (role) {
    case Role::kReader:
      return index;
    case Role::kParser:
      return header().readers + index;
    case Role::kWriter:
      return header().readers + header().parsers + index;
  }
  return 0;
}

FileEntry& PipelineLayout::file(std::uint64_t i) const noexcept {
  return *reinterpret_cast<FileEntry*>(base_ + header().manifest_offset + i * sizeof(FileEntry));
}
std::string_view PipelineLayout::path(const FileEntry& f) const noexcept {
  return {reinterpret_cast<const char*>(base_ + f.path_offset), f.path_length};
}
std::string_view PipelineLayout::source(const FileEntry& f) const noexcept {
  return {reinterpret_cast<const char*>(base_ + f.source_offset), f.source_length};
}
std::string_view PipelineLayout::source_path(const FileEntry& f) const noexcept {
  return {reinterpret_cast<const char*>(base_ + f.source_path_offset), f.source_path_length};
}
std::string_view PipelineLayout::open_error(const FileEntry& f) const noexcept {
  return {reinterpret_cast<const char*>(base_ + f.error_offset), f.error_length};
}
ipc::ProcessSlot& PipelineLayout::slot(std::uint32_t s) const noexcept {
  return *reinterpret_cast<ipc::ProcessSlot*>(base_ + header().slots_offset + s * sizeof(ipc::ProcessSlot));
}
ipc::Doorbell& PipelineLayout::bell(std::uint32_t s) const noexcept {
  return *reinterpret_cast<ipc::Doorbell*>(base_ + header().bells_offset + s * sizeof(ipc::Doorbell));
}

ipc::SpscRing& PipelineLayout::ring(int kind, std::uint32_t a, std::uint32_t b) const noexcept {
  const ControlHeader& h = header();
  const std::uint64_t raw_block = std::uint64_t{h.readers} * h.parsers * h.raw_ring_stride;
  std::uint64_t off = h.rings_offset;
  switch (kind) {
    case 0:
      off += (a * h.parsers + b) * h.raw_ring_stride;
      break;
    case 1:
      off += raw_block + (a * h.parsers + b) * h.raw_ring_stride;
      break;
    case 2:
      off += 2 * raw_block + (a * h.writers + b) * h.batch_ring_stride;
      break;
    default:
      off += 2 * raw_block + std::uint64_t{h.parsers} * h.writers * h.batch_ring_stride +
             (a * h.writers + b) * h.batch_ring_stride;
      break;
  }
  return *reinterpret_cast<ipc::SpscRing*>(base_ + off);
}

void PipelineLayout::request_stop(StopMode m) const noexcept {
  // Only escalate (drain -> abort), and wake every sleeper so it sees the new mode.
  std::uint32_t cur = header().stop.load(std::memory_order_acquire);
  while (cur < static_cast<std::uint32_t>(m) &&
         !header().stop.compare_exchange_weak(cur, static_cast<std::uint32_t>(m), std::memory_order_acq_rel)) {
  }
  for (std::uint32_t s = 0; s < slot_count(); ++s) bell(s).ring();
}

}  // namespace edgarpipe
