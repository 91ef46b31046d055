// libFuzzer target for the zip reader (input/zip_archive): the bytes are an archive, held in a
// memfd so that list_zip and ZipReader read them through a path as they read a file. Besides what
// AddressSanitizer and UBSan catch, it checks the reader's contract on every input: a refusal is
// one line naming the archive; each listed member is then read whole (when small) and in part,
// and either yields exactly its bytes or one line naming the member and the archive.
#include <sys/mman.h>
#include <unistd.h>

#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string>
#include <vector>

#include "edgarpipe/core/utf8.hpp"
#include "edgarpipe/input/zip_archive.hpp"

namespace {

void require(bool condition) {
  if (!condition) std::abort();  // libFuzzer saves the input that got here
}

// A member's refusal: "member NAME of ARCHIVE..." (the name may hold a line break: log lines and the
// rejects file escape it) on one line, or the archive's own refusal.
bool names_member(const std::string& message, const std::string& archive, const std::string& name) {
  const std::string member = "member " + name + " of " + archive;
  const std::string whole = "cannot read zip archive " + archive + ": ";
  if (message.rfind(member, 0) == 0) return message.find('\n', member.size()) == std::string::npos;
  return message.rfind(whole, 0) == 0 && message.find('\n') == std::string::npos;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  using namespace edgarpipe;
  const int fd = ::memfd_create("zip-fuzz", MFD_CLOEXEC);
  require(fd >= 0);
  require(::write(fd, data, size) == static_cast<ssize_t>(size));
  const std::string path = "/proc/self/fd/" + std::to_string(fd);
  struct Member {
    std::string name;
    ZipEntry entry;
  };
  std::vector<Member> members;
  const std::string error = list_zip(path, [&](const ZipEntry& e) {
    if (members.size() < 64) members.push_back({std::string(e.name), e});
  });
  require(error.empty() ||
          (error.rfind("cannot read zip archive " + path + ": ", 0) == 0 && error.find('\n') == std::string::npos));
  ZipReader zips;
  for (const Member& m : members) {
    if (m.entry.size > (1 << 20)) continue;  // the readers refuse what exceeds --max-file-size first
    std::vector<std::byte> out(m.entry.size);
    const std::string whole = zips.read(path, m.entry.directory_offset, m.name, m.entry.size, out);
    require(whole.empty() || names_member(whole, path, m.name));
    std::vector<std::byte> head(std::min<std::uint64_t>(m.entry.size, 100));
    const std::string part = zips.read(path, m.entry.directory_offset, m.name, m.entry.size, head);
    require(part.empty() || names_member(part, path, m.name));
    require(m.name.find('\0') == std::string::npos);                             // no database text holds one
    require(first_invalid_utf8(m.name.data(), m.name.size()) == m.name.size());  // nor invalid UTF-8
    if (whole.empty() && part.empty()) require(std::equal(head.begin(), head.end(), out.begin()));
  }
  ::close(fd);
  return 0;
}
