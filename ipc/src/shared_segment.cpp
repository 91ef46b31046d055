#include "edgarpipe/ipc/shared_segment.hpp"

#include <fcntl.h>
#include <signal.h>
#include <sys/mman.h>
#include <sys/statvfs.h>
#include <unistd.h>

#include <algorithm>
#include <boost/interprocess/mapped_region.hpp>
#include <boost/interprocess/permissions.hpp>
#include <boost/interprocess/shared_memory_object.hpp>
#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <stdexcept>
#include <system_error>
#include <thread>
#include <vector>

namespace bip = boost::interprocess;

namespace edgarpipe::ipc {

struct SharedSegment::Mapping {
  bip::shared_memory_object object;
  bip::mapped_region region;
};

SharedSegment::SharedSegment(std::string name, std::unique_ptr<Mapping> mapping)
    : name_(std::move(name)), mapping_(std::move(mapping)) {
  base_ = static_cast<std::byte*>(mapping_->region.get_address());
  size_ = mapping_->region.get_size();
}

SharedSegment::SharedSegment(SharedSegment&&) noexcept = default;
SharedSegment& SharedSegment::operator=(SharedSegment&&) noexcept = default;
SharedSegment::~SharedSegment() = default;

SharedSegment SharedSegment::create(const std::string& name, std::size_t size, Populate populate) {
  bool created = false;
  try {
    bip::permissions owner_only;
    owner_only.set_permissions(0600);
    auto mapping = std::make_unique<Mapping>();
    mapping->object = bip::shared_memory_object(bip::create_only, name.c_str(), bip::read_write, owner_only);
    created = true;
    mapping->object.truncate(static_cast<bip::offset_t>(size));
    // populate() reserves the pages before it touches them (a full tmpfs is an error, not a
    // SIGBUS), then faults them in; the mapping itself does not pre-fault (MAP_POPULATE would
    // touch pages the reservation has not yet checked).
    mapping->region = bip::mapped_region(mapping->object, bip::read_write, 0, size);
    SharedSegment segment(name, std::move(mapping));
    if (populate == Populate::kAll) segment.populate(size);
    return segment;
  } catch (const bip::interprocess_exception& e) {
    if (created) bip::shared_memory_object::remove(name.c_str());  // never someone else's segment
    throw std::runtime_error("cannot create shared memory segment " + name + " of " + std::to_string(size) +
                             " bytes: " + e.what());
  } catch (const std::runtime_error&) {  // no room to populate it
    if (created) bip::shared_memory_object::remove(name.c_str());
    throw;
  }
}

namespace {

// Runs fault(begin, length) over [base, base + bytes) in page-aligned slices on a few threads.
// Faulting is CPU work (zeroing pages, filling page tables) done in the calling thread, so slices
// fault in parallel: the supervisor's 104 MiB reader pool took 66 ms on one thread of the 2-core
// VM. Falls back to one thread if a thread cannot start.
template <class Fault>
void fault_in_parallel(std::byte* base, std::size_t bytes, Fault fault) noexcept {
  constexpr std::size_t kPage = 4096, kMinSlice = std::size_t{8} << 20;
  const std::size_t threads =
      std::clamp<std::size_t>(std::min<std::size_t>(std::thread::hardware_concurrency(), 4), 1, bytes / kMinSlice + 1);
  const std::size_t slice = (bytes / threads + kPage - 1) / kPage * kPage;
  std::vector<std::thread> helpers;
  std::size_t done = 0;
  try {
    for (std::size_t t = 1; t < threads; ++t, done += slice) helpers.emplace_back(fault, base + done, slice);
  } catch (const std::system_error&) {  // no thread: this one faults the rest
  }
  fault(base + done, bytes - done);
  for (auto& helper : helpers) helper.join();
}

void populate_writable(std::byte* base, std::size_t bytes) noexcept {
#ifdef MADV_POPULATE_WRITE
  // One call faults the whole range in the kernel (Linux 5.14+), several times faster than a
  // fault per page from user space.
  if (::madvise(base, bytes, MADV_POPULATE_WRITE) == 0) return;
#endif
  auto* page = reinterpret_cast<volatile std::byte*>(base);
  for (std::size_t i = 0; i < bytes; i += 4096) page[i] = page[i];  // write-fault, keep contents
}

void map_existing(std::byte* base, std::size_t bytes) noexcept {
#ifdef MADV_POPULATE_READ
  if (::madvise(base, bytes, MADV_POPULATE_READ) == 0) return;
#endif
  populate_writable(base, bytes);
}

}  // namespace

int SharedSegment::reserve(std::size_t offset, std::size_t bytes) const noexcept {
  if (offset >= size_ || bytes == 0) return 0;
  const int fd = mapping_->object.get_mapping_handle().handle;
  return ::posix_fallocate(fd, static_cast<off_t>(offset), static_cast<off_t>(std::min(bytes, size_ - offset)));
}

void SharedSegment::populate(std::size_t bytes) const {
  bytes = std::min(bytes, size_);
  if (const int err = reserve(0, bytes); err != 0)
    throw std::runtime_error(err == ENOSPC ? "no room in /dev/shm for " + std::to_string(bytes) + " bytes of segment " +
                                                 name_ + ": free space there, or give the container a larger --shm-size"
                                           : "cannot allocate segment " + name_ + ": " + std::strerror(err));
  fault_in_parallel(base_, bytes, populate_writable);
}

void SharedSegment::map_populated(std::size_t bytes) const noexcept {
  fault_in_parallel(base_, std::min(bytes, size_), map_existing);
}

SharedSegment SharedSegment::open(const std::string& name, Populate populate) {
  try {
    auto mapping = std::make_unique<Mapping>();
    mapping->object = bip::shared_memory_object(bip::open_only, name.c_str(), bip::read_write);
    mapping->region = bip::mapped_region(mapping->object, bip::read_write, 0, 0, nullptr,
                                         populate == Populate::kAll ? MAP_POPULATE : 0);
    return SharedSegment(name, std::move(mapping));
  } catch (const bip::interprocess_exception& e) {
    throw std::runtime_error("cannot open shared memory segment " + name + ": " + e.what());
  }
}

bool SharedSegment::remove(const std::string& name) noexcept { return bip::shared_memory_object::remove(name.c_str()); }

std::int64_t shm_bytes_available() noexcept {
  struct statvfs info {};
  if (::statvfs("/dev/shm", &info) != 0) return -1;
  return static_cast<std::int64_t>(info.f_bavail) * static_cast<std::int64_t>(info.f_frsize);
}

std::uint64_t process_start_time(int pid) noexcept {
  char path[64];
  std::snprintf(path, sizeof path, "/proc/%d/stat", pid);
  std::FILE* f = std::fopen(path, "re");
  if (f == nullptr) return 0;
  char text[1024];
  const std::size_t n = std::fread(text, 1, sizeof text - 1, f);
  std::fclose(f);
  text[n] = '\0';
  // "pid (comm) state ppid ...": comm may hold spaces and parentheses, so count from the last ')'.
  const char* p = std::strrchr(text, ')');
  if (p == nullptr) return 0;
  for (int field = 2; field < 22 && *p != '\0'; ++p)
    if (*p == ' ') ++field;
  return std::strtoull(p, nullptr, 10);
}

std::string segment_prefix() {
  const int pid = static_cast<int>(::getpid());
  return std::string(kSegmentPrefix) + std::to_string(pid) + "." + std::to_string(process_start_time(pid)) + "-";
}

std::vector<std::string> remove_stale_segments(bool dry_run) {
  std::vector<std::string> removed;
  std::error_code ec;
  const std::string prefix = kSegmentPrefix;
  for (const auto& entry : std::filesystem::directory_iterator("/dev/shm", ec)) {
    const std::string name = entry.path().filename().string();
    if (name.rfind(prefix, 0) != 0) continue;
    // "edgarpipe-<pid>[.<start time>]-...": the creator is alive if kill(pid, 0) succeeds or is
    // refused, and (where the name says when it started) that process started then.
    const char* digits = name.c_str() + prefix.size();
    char* end = nullptr;
    const long pid = std::strtol(digits, &end, 10);
    if (end == digits || pid <= 0 || (*end != '-' && *end != '.')) continue;
    bool alive = ::kill(static_cast<pid_t>(pid), 0) == 0 || errno == EPERM;
    if (alive && *end == '.') {
      char* after = nullptr;
      const std::uint64_t started = std::strtoull(end + 1, &after, 10);
      if (after == end + 1 || *after != '-') continue;  // not a name this project writes
      const std::uint64_t now = process_start_time(static_cast<int>(pid));
      alive = now == 0 || now == started;  // 0: not readable here (another pid namespace): keep
    }
    if (alive) continue;
    if (dry_run || SharedSegment::remove(name)) removed.push_back(name);
  }
  return removed;
}

}  // namespace edgarpipe::ipc
