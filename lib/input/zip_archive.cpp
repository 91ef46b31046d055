// The zip format as PKWARE's APPNOTE.TXT (6.3.10) lays it out: local headers and member data,
// then the central directory, then the end-of-central-directory record (EOCD), preceded by a
// ZIP64 locator and record when counts or offsets overflow their 16 or 32 bits. All numbers are
// little-endian.
#include "edgarpipe/input/zip_archive.hpp"

#include <fcntl.h>
#include <libdeflate.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zlib.h>

#include <fmt/format.h>

#include <algorithm>
#include <array>
#include <cerrno>
#include <cstring>

#include "edgarpipe/core/utf8.hpp"

namespace edgarpipe {

namespace {

constexpr std::uint32_t kLocalHeaderSignature = 0x04034b50;
constexpr std::uint32_t kDirectoryEntrySignature = 0x02014b50;
constexpr std::uint32_t kEndSignature = 0x06054b50;
constexpr std::uint32_t kZip64EndSignature = 0x06064b50;
constexpr std::uint32_t kZip64LocatorSignature = 0x07064b50;
constexpr std::size_t kLocalHeaderBytes = 30, kEntryBytes = 46, kEndBytes = 22, kZip64EndBytes = 56,
                      kZip64LocatorBytes = 20;
constexpr std::uint16_t kFlagEncrypted = 1;
constexpr std::uint16_t kStored = 0, kDeflated = 8;

std::uint16_t u16(const unsigned char* p) noexcept { return static_cast<std::uint16_t>(p[0] | p[1] << 8); }
std::uint32_t u32(const unsigned char* p) noexcept {
  return static_cast<std::uint32_t>(p[0]) | static_cast<std::uint32_t>(p[1]) << 8 |
         static_cast<std::uint32_t>(p[2]) << 16 | static_cast<std::uint32_t>(p[3]) << 24;
}
std::uint64_t u64(const unsigned char* p) noexcept { return u32(p) | static_cast<std::uint64_t>(u32(p + 4)) << 32; }

// pread until `length` bytes or the end of the file; returns the bytes read, or -1 with errno.
ssize_t pread_fully(int fd, void* out, std::size_t length, std::uint64_t offset) {
  std::size_t done = 0;
  while (done < length) {
    const ssize_t n = ::pread(fd, static_cast<char*>(out) + done, length - done, static_cast<off_t>(offset + done));
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return -1;
    if (n == 0) break;
    done += static_cast<std::size_t>(n);
  }
  return static_cast<ssize_t>(done);
}

// Code points of CP437's upper half, the encoding of names a zip does not flag as UTF-8.
constexpr std::array<std::uint16_t, 128> kCp437 = {
    0x00C7, 0x00FC, 0x00E9, 0x00E2, 0x00E4, 0x00E0, 0x00E5, 0x00E7, 0x00EA, 0x00EB, 0x00E8, 0x00EF, 0x00EE,
    0x00EC, 0x00C4, 0x00C5, 0x00C9, 0x00E6, 0x00C6, 0x00F4, 0x00F6, 0x00F2, 0x00FB, 0x00F9, 0x00FF, 0x00D6,
    0x00DC, 0x00A2, 0x00A3, 0x00A5, 0x20A7, 0x0192, 0x00E1, 0x00ED, 0x00F3, 0x00FA, 0x00F1, 0x00D1, 0x00AA,
    0x00BA, 0x00BF, 0x2310, 0x00AC, 0x00BD, 0x00BC, 0x00A1, 0x00AB, 0x00BB, 0x2591, 0x2592, 0x2593, 0x2502,
    0x2524, 0x2561, 0x2562, 0x2556, 0x2555, 0x2563, 0x2551, 0x2557, 0x255D, 0x255C, 0x255B, 0x2510, 0x2514,
    0x2534, 0x252C, 0x251C, 0x2500, 0x253C, 0x255E, 0x255F, 0x255A, 0x2554, 0x2569, 0x2566, 0x2560, 0x2550,
    0x256C, 0x2567, 0x2568, 0x2564, 0x2565, 0x2559, 0x2558, 0x2552, 0x2553, 0x256B, 0x256A, 0x2518, 0x250C,
    0x2588, 0x2584, 0x258C, 0x2590, 0x2580, 0x03B1, 0x00DF, 0x0393, 0x03C0, 0x03A3, 0x03C3, 0x00B5, 0x03C4,
    0x03A6, 0x0398, 0x03A9, 0x03B4, 0x221E, 0x03C6, 0x03B5, 0x2229, 0x2261, 0x00B1, 0x2265, 0x2264, 0x2320,
    0x2321, 0x00F7, 0x2248, 0x00B0, 0x2219, 0x00B7, 0x221A, 0x207F, 0x00B2, 0x25A0, 0x00A0};

// A stored name as UTF-8: as it is when it is valid UTF-8 (ASCII included), else read as CP437
// (what zip tools without the UTF-8 flag wrote; a flagged name that is not UTF-8 is damaged, and
// no database text holds invalid UTF-8). A NUL byte, which no database text holds either, becomes
// U+FFFD. `scratch` holds a converted name.
std::string_view name_as_utf8(std::string_view raw, std::string& scratch) {
  const bool nul = raw.find('\0') != std::string_view::npos;
  const bool utf8 = first_invalid_utf8(raw.data(), raw.size()) == raw.size();
  if (utf8 && !nul) return raw;
  scratch.clear();
  for (const char c : raw) {
    const auto byte = static_cast<unsigned char>(c);
    if (byte == 0) {
      scratch += "\xEF\xBF\xBD";
      continue;
    }
    if (byte < 0x80 || utf8) {
      scratch += c;
      continue;
    }
    const std::uint16_t cp = kCp437[byte - 0x80];
    if (cp < 0x800) {
      scratch += static_cast<char>(0xC0 | cp >> 6);
    } else {
      scratch += static_cast<char>(0xE0 | cp >> 12);
      scratch += static_cast<char>(0x80 | (cp >> 6 & 0x3F));
    }
    scratch += static_cast<char>(0x80 | (cp & 0x3F));
  }
  return scratch;
}

// Parses the directory entry at p[0, available). Returns its length, 0 when `available` does not
// hold all of it, or -1 with `why` when it is not an entry.
std::ptrdiff_t parse_entry(const unsigned char* p, std::size_t available, ZipEntry& entry, std::string& scratch,
                           std::string& why) {
  if (available < kEntryBytes) return 0;
  if (u32(p) != kDirectoryEntrySignature) {
    why = "its central directory is damaged (an entry without its signature)";
    return -1;
  }
  const std::size_t name_length = u16(p + 28), extra_length = u16(p + 30), comment_length = u16(p + 32);
  const std::size_t length = kEntryBytes + name_length + extra_length + comment_length;
  if (available < length) return 0;
  entry.flags = u16(p + 8);
  entry.method = u16(p + 10);
  entry.crc32 = u32(p + 16);
  entry.compressed_size = u32(p + 20);
  entry.size = u32(p + 24);
  entry.local_header_offset = u32(p + 42);
  const std::uint16_t first_disk = u16(p + 34);
  // ZIP64: the extra field 0x0001 holds, in this order, each of these that is 0xFFFFFFFF here.
  const unsigned char* extra = p + kEntryBytes + name_length;
  for (std::size_t at = 0; at + 4 <= extra_length;) {
    const std::uint16_t id = u16(extra + at), field_length = u16(extra + at + 2);
    if (at + 4 + field_length > extra_length) break;
    if (id == 0x0001) {
      const unsigned char* field = extra + at + 4;
      std::size_t used = 0;
      for (std::uint64_t* value : {&entry.size, &entry.compressed_size, &entry.local_header_offset}) {
        if (*value != 0xFFFFFFFF) continue;
        if (used + 8 > field_length) {
          why = "its central directory is damaged (a ZIP64 field too short)";
          return -1;
        }
        *value = u64(field + used);
        used += 8;
      }
    }
    at += 4 + field_length;
  }
  if (first_disk != 0 && first_disk != 0xFFFF) {
    why = "a member starts on another disk: split archives are not read (join the parts into one)";
    return -1;
  }
  entry.name = name_as_utf8(std::string_view(reinterpret_cast<const char*>(p + kEntryBytes), name_length), scratch);
  return static_cast<std::ptrdiff_t>(length);
}

// Where an archive's central directory is, in the file: found from the end-of-directory record.
struct DirectoryLocation {
  std::uint64_t file_size = 0;
  std::uint64_t start = 0;  // absolute
  std::uint64_t size = 0;
  std::uint64_t entries = 0;
  std::uint64_t shift = 0;  // bytes before the archive proper (a self-extractor's stub): add to its offsets
};

// Why a file is not a readable zip when no end record is found, from its first bytes.
std::string not_a_zip_reason(int fd) {
  unsigned char head[4] = {};
  const ssize_t got = pread_fully(fd, head, sizeof head, 0);
  if (got == 0) return "an empty file, not a zip archive";
  if (got == 4 && u32(head) == kLocalHeaderSignature)
    return "it begins as a zip archive but its central directory, at the end, is missing or damaged: "
           "the file is cut short (an interrupted download or copy?)";
  return "not a zip archive (it does not begin with a zip signature)";
}

std::string locate_directory(int fd, DirectoryLocation& where) {
  struct stat st {};
  if (::fstat(fd, &st) != 0) return fmt::format("cannot stat: {}", std::strerror(errno));
  if (!S_ISREG(st.st_mode)) return "not a regular file";
  where.file_size = static_cast<std::uint64_t>(st.st_size);
  // The end record is the last 22 bytes but for a comment of up to 65,535; the ZIP64 locator is
  // the 20 bytes before it.
  const std::uint64_t tail_size = std::min<std::uint64_t>(where.file_size, kEndBytes + 0xFFFF + kZip64LocatorBytes);
  const std::uint64_t tail_start = where.file_size - tail_size;
  std::vector<unsigned char> tail(tail_size);
  if (pread_fully(fd, tail.data(), tail.size(), tail_start) != static_cast<ssize_t>(tail.size()))
    return fmt::format("cannot read: {}", std::strerror(errno));
  std::ptrdiff_t end = -1;
  for (std::ptrdiff_t at = static_cast<std::ptrdiff_t>(tail_size) - static_cast<std::ptrdiff_t>(kEndBytes); at >= 0;
       --at) {
    const unsigned char* p = tail.data() + at;
    if (u32(p) == kEndSignature && static_cast<std::uint64_t>(at) + kEndBytes + u16(p + 20) <= tail_size) {
      end = at;
      break;
    }
  }
  if (end < 0) return not_a_zip_reason(fd);
  const unsigned char* record = tail.data() + end;
  const std::uint64_t end_offset = tail_start + static_cast<std::uint64_t>(end);
  if (u16(record + 4) != 0 && u16(record + 4) != 0xFFFF)
    return "one part of a split archive: split archives are not read (join the parts into one)";
  where.entries = u16(record + 10);
  where.size = u32(record + 12);
  std::uint64_t declared_start = u32(record + 16);
  std::uint64_t directory_end = end_offset;  // where the directory ends in the file
  if (end >= static_cast<std::ptrdiff_t>(kZip64LocatorBytes) &&
      u32(record - kZip64LocatorBytes) == kZip64LocatorSignature) {
    const std::uint64_t zip64_end_declared = u64(record - kZip64LocatorBytes + 8);
    // The ZIP64 end record sits just before the locator; its declared offset tells any shift.
    const std::uint64_t zip64_end = end_offset - kZip64LocatorBytes - kZip64EndBytes;
    if (end_offset < kZip64LocatorBytes + kZip64EndBytes) return not_a_zip_reason(fd);
    unsigned char z[kZip64EndBytes];
    if (pread_fully(fd, z, sizeof z, zip64_end) != static_cast<ssize_t>(sizeof z) || u32(z) != kZip64EndSignature)
      return "its ZIP64 end record is missing or damaged";
    if (zip64_end < zip64_end_declared) return "its ZIP64 end record is not where the archive says";
    where.entries = u64(z + 32);
    where.size = u64(z + 40);
    declared_start = u64(z + 48);
    directory_end = zip64_end;
  }
  if (where.size > directory_end)
    return "its central directory is larger than the file: the file is cut short (an interrupted download or copy?)";
  if (where.size > kMaxZipDirectoryBytes)
    return fmt::format("its central directory has {} bytes, more than edgarpipe reads ({})", where.size,
                       kMaxZipDirectoryBytes);
  where.start = directory_end - where.size;
  if (where.start < declared_start)
    return "its central directory is not where the archive says: the file is cut short or damaged";
  where.shift = where.start - declared_start;
  return {};
}

struct Fd {
  int fd = -1;
  explicit Fd(int f) : fd(f) {}
  Fd(const Fd&) = delete;
  Fd& operator=(const Fd&) = delete;
  ~Fd() {
    if (fd >= 0) ::close(fd);
  }
};

std::string open_error(const std::string& path, const std::string& why) {
  return fmt::format("cannot read zip archive {}: {}", path, why);
}

}  // namespace

std::string list_zip(const std::string& path, const std::function<void(const ZipEntry&)>& visit) {
  const Fd file(::open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NONBLOCK));
  if (file.fd < 0) return open_error(path, std::strerror(errno));
  DirectoryLocation where;
  if (std::string why = locate_directory(file.fd, where); !why.empty()) return open_error(path, why);
  // The directory in 1 MiB windows: an entry is at most 46 + 3 * 65,535 bytes.
  constexpr std::size_t kWindow = 1 << 20;
  std::vector<unsigned char> window(std::min<std::uint64_t>(kWindow, std::max<std::uint64_t>(where.size, 1)));
  std::uint64_t window_start = 0, window_length = 0, at = 0, count = 0;
  std::string scratch, why;
  while (at < where.size) {
    ZipEntry entry;
    const std::size_t offset = at - window_start;
    std::ptrdiff_t length = parse_entry(window.data() + offset, window_length - offset, entry, scratch, why);
    if (length == 0) {  // refill from `at`
      const std::size_t wanted = std::min<std::uint64_t>(std::max(window.size(), kWindow), where.size - at);
      if (window.size() < wanted) window.resize(wanted);
      const ssize_t got = pread_fully(file.fd, window.data(), wanted, where.start + at);
      if (got < 0) return open_error(path, std::strerror(errno));
      window_start = at;
      window_length = static_cast<std::uint64_t>(got);
      length = parse_entry(window.data(), window_length, entry, scratch, why);
      if (length == 0) why = "its central directory ends inside an entry (damaged)";
    }
    if (length <= 0) return open_error(path, fmt::format("{}, at entry {}", why, count + 1));
    entry.directory_offset = static_cast<std::uint32_t>(at);
    visit(entry);
    at += static_cast<std::uint64_t>(length);
    ++count;
  }
  // Writers wrap the 16-bit count when they omit ZIP64; a count that differs otherwise is damage.
  if (count != where.entries && (count & 0xFFFF) != where.entries)
    return open_error(path, fmt::format("its central directory holds {} entries where the archive says {} (damaged)",
                                        count, where.entries));
  return {};
}

struct ZipReader::Archive {
  Fd file;
  DirectoryLocation where;
  explicit Archive(int fd) : file(fd) {}
};

void ZipReader::InflaterFree::operator()(libdeflate_decompressor* d) const noexcept { libdeflate_free_decompressor(d); }

ZipReader::ZipReader() : inflater_(libdeflate_alloc_decompressor()) {
  if (!inflater_) throw std::bad_alloc();
}
ZipReader::~ZipReader() = default;

ZipReader::Archive* ZipReader::open(const std::string& path, std::string& error) {
  if (auto it = archives_.find(path); it != archives_.end()) return it->second.get();
  auto archive = std::make_unique<Archive>(::open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NONBLOCK));
  if (archive->file.fd < 0) {
    error = open_error(path, std::strerror(errno));
    return nullptr;
  }
  if (std::string why = locate_directory(archive->file.fd, archive->where); !why.empty()) {
    error = open_error(path, why);
    return nullptr;
  }
  return archives_.emplace(path, std::move(archive)).first->second.get();
}

std::string ZipReader::read(const std::string& archive_path, std::uint32_t directory_offset, std::string_view name,
                            std::uint64_t size, std::span<std::byte> out) {
  const std::string where = fmt::format("member {} of {}", name, archive_path);
  std::string error;
  const Archive* archive = open(archive_path, error);
  if (archive == nullptr) return error;
  const int fd = archive->file.fd;
  const auto changed = [&] { return fmt::format("{}: the archive changed since it was listed (run again)", where); };

  // The directory entry: one pread holds it unless its name, extra field and comment are long.
  if (directory_offset >= archive->where.size) return changed();
  const std::uint64_t entry_start = archive->where.start + directory_offset;
  std::vector<unsigned char> bytes(std::min<std::uint64_t>(1024, archive->where.size - directory_offset));
  ZipEntry entry;
  std::string scratch, why;
  std::ptrdiff_t length = 0;
  for (;;) {
    const ssize_t got = pread_fully(fd, bytes.data(), bytes.size(), entry_start);
    if (got < 0) return fmt::format("{}: cannot read its directory entry: {}", where, std::strerror(errno));
    if (static_cast<std::size_t>(got) != bytes.size()) return changed();
    length = parse_entry(bytes.data(), bytes.size(), entry, scratch, why);
    if (length != 0 || bytes.size() == archive->where.size - directory_offset) break;
    bytes.resize(std::min<std::uint64_t>(kEntryBytes + 3 * 0xFFFF, archive->where.size - directory_offset));
  }
  if (length <= 0 || entry.name != name || entry.size != size) return changed();
  if ((entry.flags & kFlagEncrypted) != 0) return fmt::format("{} is encrypted; not read", where);
  if (entry.method != kStored && entry.method != kDeflated)
    return fmt::format("{} is compressed with method {}; edgarpipe reads stored and deflated members", where,
                       entry.method);
  const bool stored = entry.method == kStored;
  // Deflate stores what it cannot compress in blocks with a 5-byte header, at most 64 KiB each;
  // 5 bytes per 4 KiB is well above any encoder's overhead: a larger stored size is a lie.
  if (stored ? entry.compressed_size != size : entry.compressed_size > size + size / 4096 * 5 + 1024)
    return fmt::format("{}: {} stored bytes cannot hold {} bytes", where, entry.compressed_size, size);

  // The local header: its name and extra field may differ in length from the directory's.
  unsigned char local[kLocalHeaderBytes];
  const std::uint64_t local_offset = entry.local_header_offset + archive->where.shift;
  if (pread_fully(fd, local, sizeof local, local_offset) != static_cast<ssize_t>(sizeof local) ||
      u32(local) != kLocalHeaderSignature)
    return fmt::format("{}: its local header is missing or damaged", where);
  const std::uint64_t data_offset = local_offset + kLocalHeaderBytes + u16(local + 26) + u16(local + 28);
  if (data_offset + entry.compressed_size > archive->where.start)
    return fmt::format("{}: its {} stored bytes run past the archive's members (damaged or cut short)", where,
                       entry.compressed_size);

  const std::uint64_t wanted = std::min<std::uint64_t>(out.size(), size);
  if (!stored && wanted < size)
    return read_prefix_deflated(*archive, data_offset, entry.compressed_size, out.first(wanted), where);
  std::byte* raw = out.data();
  std::uint64_t raw_length = wanted;
  if (!stored) {
    if (compressed_.size() < entry.compressed_size) compressed_.resize(entry.compressed_size);
    raw = compressed_.data();
    raw_length = entry.compressed_size;
  }
  const ssize_t got = pread_fully(fd, raw, raw_length, data_offset);
  if (got < 0) return fmt::format("{}: read error: {}", where, std::strerror(errno));
  if (static_cast<std::uint64_t>(got) != raw_length)
    return fmt::format("{}: the archive ends {} bytes into the member's {}", where, got, raw_length);
  if (!stored) {
    std::size_t inflated = 0;
    switch (libdeflate_deflate_decompress(inflater_.get(), raw, raw_length, out.data(), size, &inflated)) {
      case LIBDEFLATE_SUCCESS:
        break;
      case LIBDEFLATE_INSUFFICIENT_SPACE:
        return fmt::format("{} inflates past its declared {} bytes", where, size);
      default:
        return fmt::format("{}: invalid deflate data", where);
    }
    if (inflated != size) return fmt::format("{} inflates to {} bytes, not its declared {}", where, inflated, size);
  }
  if (wanted == size) {
    const std::uint32_t crc = libdeflate_crc32(0, out.data(), size);
    if (crc != entry.crc32)
      return fmt::format("{}: CRC-32 {:08x} where the archive says {:08x} (the member is damaged)", where, crc,
                         entry.crc32);
  }
  return {};
}

// The first out.size() bytes of a deflated member, through zlib's stream (libdeflate inflates
// only whole): a document's first keys without inflating tens of megabytes.
std::string ZipReader::read_prefix_deflated(const Archive& archive, std::uint64_t data_offset,
                                            std::uint64_t compressed_size, std::span<std::byte> out,
                                            const std::string& where) {
  z_stream stream{};
  if (inflateInit2(&stream, -MAX_WBITS) != Z_OK) return fmt::format("{}: cannot start inflating", where);
  std::array<unsigned char, 16384> input{};
  std::uint64_t consumed = 0;
  stream.next_out = reinterpret_cast<unsigned char*>(out.data());
  stream.avail_out = static_cast<uInt>(out.size());
  int status = Z_OK;
  while (stream.avail_out > 0 && status == Z_OK) {
    if (stream.avail_in == 0) {
      const std::size_t want = std::min<std::uint64_t>(input.size(), compressed_size - consumed);
      if (want == 0) break;
      const ssize_t got = pread_fully(archive.file.fd, input.data(), want, data_offset + consumed);
      if (got <= 0) break;
      consumed += static_cast<std::uint64_t>(got);
      stream.next_in = input.data();
      stream.avail_in = static_cast<uInt>(got);
    }
    status = inflate(&stream, Z_NO_FLUSH);
  }
  inflateEnd(&stream);
  if (status != Z_OK && status != Z_STREAM_END) return fmt::format("{}: invalid deflate data", where);
  if (stream.avail_out > 0) return fmt::format("{}: inflates to fewer bytes than it declares", where);
  return {};
}

}  // namespace edgarpipe
