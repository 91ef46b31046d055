#include "run_inputs.hpp"

#include <fmt/format.h>
#include <fmt/ranges.h>

#include <set>

#include "edgarpipe/core/errors.hpp"
#include "edgarpipe/core/log.hpp"
#include "edgarpipe/input/identity.hpp"

namespace edgarpipe {

InputList list_inputs(const RunOptions& o, std::uint64_t& duplicates, std::uint64_t& conflicting) {
  InputOptions whole = o.inputs;  // the shard is taken below, once every input has its key
  whole.shard_count = 1;
  InputList files = enumerate_inputs(o.paths, whole);
  std::string named;
  for (const auto& p : o.paths) named += (named.empty() ? "" : ", ") + p;
  if (files.empty())
    throw UsageError(
        fmt::format("no input found in {}: looked for *.json files and *.zip archives with *.json "
                    "members (folders are searched recursively)",
                    named));
  if (o.dataset != Dataset::kUnknown) {
    const Dataset other = o.dataset == Dataset::kSubmissions ? Dataset::kCompanyfacts : Dataset::kSubmissions;
    const LeftOut left = keep_dataset(files, o.dataset);
    if (files.empty())
      throw UsageError(fmt::format("no {} input found in {}: {} {} input{} left out by --dataset {}",
                                   dataset_name(o.dataset), named, left.count, dataset_name(other),
                                   left.count == 1 ? "" : "s", dataset_name(o.dataset)));
    if (left.count > 0)
      log::info("--dataset {}: {} {} input{} left out (e.g. {})", dataset_name(o.dataset), left.count,
                dataset_name(other), left.count == 1 ? "" : "s", fmt::join(left.examples, ", "));
  }
  const IdentityReport identity = resolve_identities(files, o.max_file_mib * kMiB);
  for (std::size_t i = 0; i < identity.messages.size() && i < 10; ++i) log::warning("{}", identity.messages[i]);
  if (identity.messages.size() > 10)
    log::warning(
        "... and {} more keys given more than once ({} duplicate copies, {} with other "
        "content)",
        identity.messages.size() - 10, identity.duplicates, identity.conflicting);
  if (o.inputs.shard_count > 1)  // renamed files have their CIK now
    std::erase_if(files.files,
                  [&](const InputFile& f) { return shard_of(files, f, o.inputs.shard_count) != o.inputs.shard_index; });
  duplicates = identity.duplicates;
  conflicting = identity.conflicting;
  return files;
}

void keep_rejected_only(InputList& files, SinkAdmin& admin) {
  std::set<FileKey> rejected;
  std::set<std::string> rejected_paths;  // key-less rejects
  for (const IngestRecord& r : admin.ingest_records(std::nullopt)) {
    if (r.key.cik >= 0)
      rejected.insert(r.key);
    else
      rejected_paths.insert(r.source_path);
  }
  std::erase_if(files.files, [&](const InputFile& f) {
    if (f.key_cik < 0) return !rejected_paths.count(files.source_path(f));
    for (const Dataset d : {Dataset::kUnknown, Dataset::kSubmissions, Dataset::kCompanyfacts})
      if ((f.hint == Dataset::kUnknown || d == f.hint || d == Dataset::kUnknown) &&
          rejected.count({d, f.key_cik, f.key_page}))
        return false;
    return true;
  });
  log::info("--retry-rejected: {} of the inputs were rejected before", files.size());
}

void attach_known(InputFile& f, const LoadedFiles& loaded) {
  f.known_count = 0;
  if (f.key_cik < 0) return;
  for (const Dataset d : {Dataset::kSubmissions, Dataset::kCompanyfacts}) {
    if (f.hint != Dataset::kUnknown && d != f.hint) continue;
    if (const auto it = loaded.find({d, f.key_cik, f.key_page}); it != loaded.end()) {
      f.known_hashes[f.known_count] = it->second.hash;
      f.known_datasets[f.known_count++] = d;
    }
  }
}

void force_main_files_only(InputList& list) {
  std::vector<InputFile>& files = list.files;
  std::set<std::int64_t> main_files;  // CIKs of submissions main files forced in this run
  for (const InputFile& f : files)
    if (f.hint == Dataset::kSubmissions && f.key_page == 0 && f.known_count > 0) main_files.insert(f.key_cik);
  for (InputFile& f : files)
    if (f.key_page > 0 && main_files.count(f.key_cik)) f.reload = false;
}

}  // namespace edgarpipe
