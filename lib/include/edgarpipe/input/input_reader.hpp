// The one way edgarpipe reads an input's bytes, a file or a zip member, used by the reader stage
// (into a chunk of shared memory) and by identity resolution (into a buffer): what can go wrong
// while reading is checked, and worded, in one place.
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>
#include <string>
#include <string_view>

#include "edgarpipe/input/zip_archive.hpp"

namespace edgarpipe {

// One input at a time; archives stay open across members. Not shared between threads.
class InputReader {
 public:
  InputReader() = default;
  ~InputReader() { close(); }
  InputReader(const InputReader&) = delete;
  InputReader& operator=(const InputReader&) = delete;

  // Opens an input: with zip_member < 0 the file at `path`, whose size is what it holds now (it
  // may have changed since the listing; a FIFO or device put there since is refused, never
  // waited on); else the member of the archive at `path` whose directory entry is at
  // `zip_member`, listed as `name` of `listed_size` bytes. Returns "" and sets size(), or why it
  // cannot be read.
  std::string open(const std::string& path, std::int32_t zip_member, std::string_view name, std::uint64_t listed_size);
  std::uint64_t size() const noexcept { return size_; }
  // Reads the open input's first out.size() bytes (out.size() <= size(); all of them checks a
  // member's CRC-32) into `out`. Returns "" with `got` the bytes read (fewer when a file shrank
  // since it was opened), or why not.
  std::string read(std::span<std::byte> out, std::uint64_t& got);
  void close() noexcept;

 private:
  ZipReader zips_;
  int fd_ = -1;          // the open file, or -1 for a member
  std::string archive_;  // the open member's archive
  std::string name_;     // and its name
  std::int32_t member_ = -1;
  std::uint64_t size_ = 0;
};

}  // namespace edgarpipe
