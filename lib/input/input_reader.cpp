#include "edgarpipe/input/input_reader.hpp"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <fmt/format.h>

#include <cerrno>
#include <cstring>

namespace edgarpipe {

void InputReader::close() noexcept {
  if (fd_ >= 0) ::close(fd_);
  fd_ = -1;
  member_ = -1;
  size_ = 0;
}

std::string InputReader::open(const std::string& path, std::int32_t zip_member, std::string_view name,
                              std::uint64_t listed_size) {
  close();
  if (zip_member >= 0) {
    archive_ = path;
    name_ = name;
    member_ = zip_member;
    size_ = listed_size;
    return {};
  }
  fd_ = ::open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NONBLOCK);  // a FIFO put there since listing: no wait
  if (fd_ < 0) return fmt::format("cannot open: {}", std::strerror(errno));
  struct stat st {};
  if (::fstat(fd_, &st) != 0) return fmt::format("cannot stat: {}", std::strerror(errno));
  if (!S_ISREG(st.st_mode)) return "not a regular file; not read";
  size_ = static_cast<std::uint64_t>(st.st_size);
  return {};
}

std::string InputReader::read(std::span<std::byte> out, std::uint64_t& got) {
  got = 0;
  if (member_ >= 0) {
    std::string error = zips_.read(archive_, static_cast<std::uint32_t>(member_), name_, size_, out);
    if (error.empty()) got = out.size();
    return error;
  }
  while (got < out.size()) {
    const ssize_t n = ::pread(fd_, out.data() + got, out.size() - got, static_cast<off_t>(got));
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return fmt::format("read error at byte {}: {}", got, std::strerror(errno));
    if (n == 0) break;  // the file shrank since it was opened
    got += static_cast<std::uint64_t>(n);
  }
  return {};
}

}  // namespace edgarpipe
