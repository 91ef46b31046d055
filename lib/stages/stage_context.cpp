#include "edgarpipe/stages/stage_context.hpp"
#include "edgarpipe/core/log.hpp"

#include <signal.h>
#include <unistd.h>

#include <fmt/format.h>
#include <cstdlib>
#include <cstring>
#include <optional>
#include <thread>

namespace edgarpipe {

StageContext StageContext::attach(int argc, char** argv, Role role) {
  std::string control_name;
  long slot = -1;
  for (int i = 1; i + 1 < argc; i += 2) {
    if (std::strcmp(argv[i], "--control") == 0)
      control_name = argv[i + 1];
    else if (std::strcmp(argv[i], "--slot") == 0)
      slot = std::strtol(argv[i + 1], nullptr, 10);
  }
  if (control_name.empty() || slot < 0)
    throw std::invalid_argument(
        "stage processes are started by `edgarpipe run`, not by hand (need --control NAME --slot N)");
  auto control = ipc::SharedSegment::open(control_name);
  PipelineLayout layout = PipelineLayout::attach(control.base());
  if (static_cast<std::uint32_t>(slot) >= layout.slot_count()) throw std::invalid_argument("--slot out of range");
  auto& s = layout.slot(static_cast<std::uint32_t>(slot));
  if (s.role.load() != static_cast<std::uint32_t>(role))
    throw std::invalid_argument("--slot names a slot of another role");
  if (slot > 0xFF || s.incarnation.load() > 0xFFFF)  // OwnerId's bits (chunk_pool.hpp); bounded by the CLI
    throw std::invalid_argument("--slot or its incarnation is beyond what a chunk's owner record holds");
  const ipc::OwnerId me{static_cast<std::uint8_t>(slot), static_cast<std::uint16_t>(s.incarnation.load())};
  s.pid.store(static_cast<std::int32_t>(::getpid()), std::memory_order_relaxed);

  s.set_phase(ipc::ProcessPhase::kRunning);
  return StageContext{std::move(control), layout, static_cast<std::uint32_t>(slot), s.index.load(), s, me, {}, {}};
}

void StageContext::mark_started() const {
  const auto now = std::chrono::steady_clock::now().time_since_epoch();
  slot.counters[counter::kStartNs].store(
      static_cast<std::uint64_t>(std::chrono::duration_cast<std::chrono::nanoseconds>(now).count()),
      std::memory_order_relaxed);
}

void StageContext::wait(std::uint32_t key, WaitFor reason, std::chrono::milliseconds timeout) const {
  check_abort();
  const auto start = std::chrono::steady_clock::now();
  my_bell().wait(key, timeout);
  const auto slept = std::chrono::duration_cast<std::chrono::nanoseconds>(std::chrono::steady_clock::now() - start);
  slot.add(reason == WaitFor::kInput ? counter::kWaitInputNs : counter::kWaitOutputNs,
           static_cast<std::uint64_t>(slept.count()));
  check_abort();
}

// EDGARPIPE_TEST_FAULT=kill:<stage> makes that stage SIGKILL itself once running (in every
// attempt of the run), kill-first:<stage> only in the first attempt (before any restart);
// crash-on:<text> makes a parser SIGSEGV on every file whose source name contains <text>;
// slow:<stage>:<ms> makes it pause <ms> per file. Tests use it to exercise crash, restart and
// interrupt paths deterministically; it is never set in production.
void apply_test_faults(StageContext& ctx, Role role) {
  const char* fault = std::getenv("EDGARPIPE_TEST_FAULT");
  if (fault == nullptr) return;
  const std::string spec = fault;
  const std::string name(role_name(role));
  if (spec == "kill:" + name) ::raise(SIGKILL);
  if (spec == "kill-first:" + name && ctx.layout.header().attempt == 1) ::raise(SIGKILL);
  if (spec.rfind("crash-on:", 0) == 0 && role == Role::kParser) ctx.test_crash_on = spec.substr(9);
  if (spec.rfind("slow:" + name + ":", 0) == 0)
    ctx.test_delay_per_file = std::chrono::milliseconds(std::strtol(spec.c_str() + 6 + name.size(), nullptr, 10));
}

int run_stage(const char* name, int argc, char** argv, Role role, void (*body)(StageContext&)) {
  // Ctrl-C reaches the whole process group; the supervisor alone decides how the run stops.
  ::signal(SIGINT, SIG_IGN);
  ::signal(SIGTERM, SIG_IGN);
  log::configure_from_environment();
  // The context (and with it the mapping of the slot) outlives every use of the slot below.
  std::optional<StageContext> ctx;
  try {
    ctx.emplace(StageContext::attach(argc, argv, role));
    apply_test_faults(*ctx, role);
    body(*ctx);
    ctx->slot.set_phase(ipc::ProcessPhase::kFinished);
    // Wake everyone downstream: they re-check whether all their producers have finished.
    for (std::uint32_t s = 0; s < ctx->layout.slot_count(); ++s) ctx->layout.bell(s).ring();
    return 0;
  } catch (const StageAborted&) {
    if (ctx) ctx->slot.set_phase(ipc::ProcessPhase::kFailed);
    return 1;
  } catch (const std::exception& e) {
    log::error("{} (pid {}): {}", name, ::getpid(), e.what());
    if (ctx) ctx->slot.set_phase(ipc::ProcessPhase::kFailed);
    return 1;
  }
}

}  // namespace edgarpipe
