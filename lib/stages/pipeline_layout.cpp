#include "edgarpipe/stages/pipeline_layout.hpp"

#include <algorithm>
#include <cstring>
#include <stdexcept>
#include <type_traits>

#include "edgarpipe/input/sources.hpp"

namespace edgarpipe {

namespace {
constexpr std::uint64_t kControlMagic = 0x4c52544345504745ULL;  // "EGPECTRL"
constexpr std::uint32_t kControlVersion = 5;

struct Offsets {
  std::uint64_t manifest, roots, strings, slots, bells, rings, raw_stride, batch_stride, total;
};

Offsets plan(const PipelineShape& shape, std::uint64_t file_count, std::uint64_t root_count,
             std::uint64_t string_bytes) {
  using ipc::align_up;
  Offsets o{};
  o.manifest = align_up(sizeof(ControlHeader), 128);
  o.roots = align_up(o.manifest + file_count * sizeof(FileEntry), 128);
  o.strings = align_up(o.roots + root_count * sizeof(SegmentRoot), 128);
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

// The string table: every name of the list (a later pass's subset too: offsets stay the list's),
// then the roots' strings, then the errors of the files in the list.
std::uint64_t string_bytes(const InputList& list) {
  std::uint64_t n = list.names().names.size();
  for (const InputRoot& r : list.names().roots) n += r.open.size() + r.canonical.size() + r.prefix.size();
  for (const InputFile& f : list.files) n += std::min<std::size_t>(list.open_error(f).size(), UINT16_MAX);
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

std::uint64_t PipelineLayout::bytes_for(const PipelineShape& shape, const InputList& files) {
  return plan(shape, files.size(), files.names().roots.size(), string_bytes(files)).total;
}

PipelineLayout PipelineLayout::format(std::byte* base, const PipelineShape& shape, const InputList& files,
                                      std::string_view run_name) {
  const std::uint64_t strings = string_bytes(files);
  if (strings > UINT32_MAX) throw std::invalid_argument("the inputs' names take more than 4 GiB");
  const Offsets o = plan(shape, files.size(), files.names().roots.size(), strings);
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
  h->root_count = static_cast<std::uint32_t>(files.names().roots.size());
  h->manifest_offset = o.manifest;
  h->roots_offset = o.roots;
  h->strings_offset = o.strings;
  h->slots_offset = o.slots;
  h->bells_offset = o.bells;
  h->rings_offset = o.rings;
  h->raw_ring_stride = o.raw_stride;
  h->batch_ring_stride = o.batch_stride;
  h->stop.store(0, std::memory_order_relaxed);
  h->next_file.store(0, std::memory_order_relaxed);

  const InputNames& names = files.names();
  std::byte* const table = base + o.strings;
  std::memcpy(table, names.names.data(), names.names.size());
  std::uint32_t cursor = static_cast<std::uint32_t>(names.names.size());
  const auto put = [&](std::string_view text, std::uint32_t& offset, auto& length) {
    offset = cursor;
    length = static_cast<std::remove_reference_t<decltype(length)>>(text.size());
    if (length == 0) return;  // an empty view may have no data (memcpy from null is undefined)
    std::memcpy(table + cursor, text.data(), length);
    cursor += static_cast<std::uint32_t>(length);
  };
  for (std::size_t r = 0; r < names.roots.size(); ++r) {
    const InputRoot& in = names.roots[r];
    auto* root = new (base + o.roots + r * sizeof(SegmentRoot)) SegmentRoot{};
    root->kind = static_cast<std::uint32_t>(in.kind);
    put(in.open, root->open_offset, root->open_length);
    put(in.canonical, root->canonical_offset, root->canonical_length);
    put(in.prefix, root->prefix_offset, root->prefix_length);
  }
  for (std::size_t i = 0; i < files.size(); ++i) {
    const InputFile& in = files.files[i];
    auto* e = new (base + o.manifest + i * sizeof(FileEntry)) FileEntry{};
    e->root = in.root;
    e->name_offset = in.name_offset;
    e->name_length = in.name_length;
    const std::string_view error = files.open_error(in);
    put(error.substr(0, UINT16_MAX), e->error_offset, e->error_length);
    e->key_cik = in.key_cik;
    e->key_page = in.key_page;
    e->zip_member = in.zip_member;
    e->size = in.size;
    e->source_stamp = in.source_stamp;
    e->hint = in.hint;
    e->forced = in.forced;
    e->reload = in.reload;
    e->known_count = in.known_count;
    for (std::size_t k = 0; k < 2; ++k) {
      e->known_hashes[k] = in.known_hashes[k];
      e->known_datasets[k] = in.known_datasets[k];
    }
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
namespace {
std::string_view at(const std::byte* table, std::uint32_t offset, std::uint32_t length) noexcept {
  return {reinterpret_cast<const char*>(table + offset), length};
}
}  // namespace

std::string PipelineLayout::path(const FileEntry& f) const {
  const std::byte* table = base_ + header().strings_offset;
  const auto& r = *reinterpret_cast<const SegmentRoot*>(base_ + header().roots_offset + f.root * sizeof(SegmentRoot));
  std::string out(at(table, r.open_offset, r.open_length));
  if (r.kind == static_cast<std::uint32_t>(InputRoot::Kind::kDirectory)) out += at(table, f.name_offset, f.name_length);
  return out;
}
std::string PipelineLayout::source(const FileEntry& f) const {
  const std::byte* table = base_ + header().strings_offset;
  const auto& r = *reinterpret_cast<const SegmentRoot*>(base_ + header().roots_offset + f.root * sizeof(SegmentRoot));
  std::string out(at(table, r.prefix_offset, r.prefix_length));
  return out += at(table, f.name_offset, f.name_length);
}
std::string PipelineLayout::source_path(const FileEntry& f) const {
  const std::byte* table = base_ + header().strings_offset;
  const auto& r = *reinterpret_cast<const SegmentRoot*>(base_ + header().roots_offset + f.root * sizeof(SegmentRoot));
  std::string out(at(table, r.canonical_offset, r.canonical_length));
  switch (static_cast<InputRoot::Kind>(r.kind)) {
    case InputRoot::Kind::kArchive:
      out += ':';
      out += at(table, r.prefix_offset, r.prefix_length);  // the member's folder in the archive
      [[fallthrough]];
    case InputRoot::Kind::kDirectory:
      out += at(table, f.name_offset, f.name_length);
      break;
    case InputRoot::Kind::kFile:
      break;
  }
  return out;
}
std::string_view PipelineLayout::open_error(const FileEntry& f) const noexcept {
  return at(base_ + header().strings_offset, f.error_offset, f.error_length);
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
