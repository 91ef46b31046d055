// Zip archives read by edgarpipe itself: the central directory listed in one pass with nothing
// kept per member, and a member read from its directory entry's offset with three preads and one
// libdeflate call. The SEC's archives hold ~10^6 members; a general library (libzip) keeps ~500
// bytes per member in every process that opens them, and cannot inflate a member whole.
//
// What is read: single-file archives, ZIP64 included (more than 65,535 members, offsets past
// 4 GiB), data prepended to the archive (a self-extractor's stub) included; members stored or
// deflated. Encrypted members, other compression methods and split archives are refused with a
// reason. Every check a damaged or hostile archive can fail is a one-line reason naming the
// member and the archive, never a crash: each member's sizes, its local header, its inflated size
// and its CRC-32 are checked; the listing's name and size are checked again when the member is
// read, so an archive replaced between the two is never read under the old names.
#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

struct libdeflate_decompressor;

namespace edgarpipe {

// One entry of a central directory.
struct ZipEntry {
  std::string_view name;   // UTF-8 (a name that is not valid UTF-8 is read as CP437; a NUL as U+FFFD)
  std::uint64_t size = 0;  // inflated
  std::uint64_t compressed_size = 0;
  std::uint64_t local_header_offset = 0;  // as the directory says (before any prepended data)
  std::uint32_t crc32 = 0;
  std::uint32_t directory_offset = 0;  // where this entry starts, from the directory's start
  std::uint16_t method = 0;            // 0 stored, 8 deflated: the two that are read
  std::uint16_t flags = 0;             // bit 0: encrypted
  bool is_directory() const noexcept { return !name.empty() && name.back() == '/'; }
};

// The largest central directory read (ZipEntry::directory_offset is 32 bits): 2 GiB is ~25
// million members, 25 times the SEC's largest archive.
inline constexpr std::uint64_t kMaxZipDirectoryBytes = std::uint64_t{1} << 31;

// Lists the archive's entries in directory order, calling `visit` for each (its name is valid for
// the call only). Returns "" or why the archive cannot be listed, in the words of what is wrong
// with it ("cannot read zip archive PATH: it is cut short ..."); the entries visited before a
// damaged entry stay visited.
std::string list_zip(const std::string& path, const std::function<void(const ZipEntry&)>& visit);

// Reads members of archives. Holds each archive it has read from open, its inflater and its
// buffer for stored bytes: one per process, not shared between threads.
class ZipReader {
 public:
  ZipReader();
  ~ZipReader();
  ZipReader(const ZipReader&) = delete;
  ZipReader& operator=(const ZipReader&) = delete;

  // Reads into `out` the member whose directory entry starts at `directory_offset`, listed as
  // `name` of `size` bytes. With out.size() == size the member is read whole and its inflated
  // size and CRC-32 are checked; a smaller `out` takes the member's first out.size() bytes (its
  // CRC-32 is then not checked). Returns "" or the reason, naming the member and the archive.
  std::string read(const std::string& archive_path, std::uint32_t directory_offset, std::string_view name,
                   std::uint64_t size, std::span<std::byte> out);

 private:
  struct Archive;
  // The archive, opened and its directory found; null with `error` set when it cannot be.
  Archive* open(const std::string& path, std::string& error);
  std::string read_prefix_deflated(const Archive& archive, std::uint64_t data_offset, std::uint64_t compressed_size,
                                   std::span<std::byte> out, const std::string& where);

  std::unordered_map<std::string, std::unique_ptr<Archive>> archives_;
  struct InflaterFree {
    void operator()(libdeflate_decompressor* d) const noexcept;
  };
  std::unique_ptr<libdeflate_decompressor, InflaterFree> inflater_;
  std::vector<std::byte> compressed_;  // a deflated member's stored bytes; grows to the largest
};

}  // namespace edgarpipe
