// enumerate_inputs over a real folder tree (files, subfolders, symbolic links to a file and to a
// folder, a FIFO, a broken link, an unreadable entry), and the control segment's copy of the list:
// every input's strings read back from the segment equal the list's.
#include <sys/stat.h>
#include <unistd.h>

#include <catch2/catch.hpp>
#include <filesystem>
#include <fstream>
#include <map>
#include <memory>
#include <new>

#include "edgarpipe/input/input_reader.hpp"
#include "edgarpipe/input/sources.hpp"
#include "edgarpipe/stages/pipeline_layout.hpp"

using namespace edgarpipe;
namespace fs = std::filesystem;

namespace {

struct Tree {
  fs::path root = fs::temp_directory_path() / ("edgarpipe-sources-test-" + std::to_string(::getpid()));
  Tree() {
    fs::remove_all(root);
    fs::create_directories(root / "top/submissions/deeper");
    fs::create_directories(root / "outside/folder");
    write(root / "top/submissions/CIK0000000001.json");
    write(root / "top/submissions/deeper/CIK0000000002.json");
    write(root / "top/notes.txt");  // not an input
    write(root / "outside/CIK0000000003.json");
    write(root / "outside/folder/CIK0000000004.json");
    fs::create_directory_symlink(root / "outside/folder", root / "top/linked");
    fs::create_symlink(root / "outside/CIK0000000003.json", root / "top/CIK0000000003.json");
    fs::create_symlink(root / "nowhere.json", root / "top/CIK0000000005.json");
    fs::create_directory_symlink(root / "top", root / "top/submissions/back");  // a loop: listed once
    REQUIRE(::mkfifo((root / "top/submissions/CIK0000000006.json").c_str(), 0600) == 0);
  }
  ~Tree() { fs::remove_all(root); }
  static void write(const fs::path& p) { std::ofstream(p) << "{}"; }
};

}  // namespace

TEST_CASE("Inputs: what each one is called and where it is read, readable or not", "[sources]") {
  Tree tree;
  const std::string top = (tree.root / "top").string();
  const std::string canonical = fs::canonical(tree.root).string();
  const InputList list = enumerate_inputs({top}, InputOptions{});

  std::map<std::string, const InputFile*> by_name;  // by source_file
  for (const InputFile& f : list.files) by_name[list.source_file(f)] = &f;
  REQUIRE(by_name.size() == list.size());
  CHECK(by_name.size() == 6);

  const InputFile& plain = *by_name.at("submissions/CIK0000000001.json");
  CHECK(list.path(plain) == top + "/submissions/CIK0000000001.json");
  CHECK(list.source_path(plain) == canonical + "/top/submissions/CIK0000000001.json");
  CHECK(plain.key_cik == 1);
  CHECK(plain.hint == Dataset::kSubmissions);
  CHECK(list.open_error(plain).empty());

  const InputFile& deeper = *by_name.at("submissions/deeper/CIK0000000002.json");
  CHECK(list.source_path(deeper) == canonical + "/top/submissions/deeper/CIK0000000002.json");

  // A link to a file: read where it points.
  const InputFile& linked_file = *by_name.at("CIK0000000003.json");
  CHECK(list.path(linked_file) == top + "/CIK0000000003.json");
  CHECK(list.source_path(linked_file) == canonical + "/outside/CIK0000000003.json");

  // A link to a folder is followed; its files are where the folder really is.
  const InputFile& in_linked = *by_name.at("linked/CIK0000000004.json");
  CHECK(list.source_path(in_linked) == canonical + "/outside/folder/CIK0000000004.json");
  CHECK(list.open_error(in_linked).empty());

  // Never skipped, never opened: each carries why it cannot be read.
  const InputFile& broken = *by_name.at("CIK0000000005.json");
  CHECK(list.open_error(broken).find("broken symbolic link") != std::string_view::npos);
  const InputFile& fifo = *by_name.at("submissions/CIK0000000006.json");
  CHECK(list.open_error(fifo).find("a FIFO") != std::string_view::npos);
  InputReader reader;
  CHECK(read_input(list, fifo, reader, 1 << 20).error.find("FIFO") != std::string::npos);  // returns: never blocks

  SECTION("the control segment holds the same strings") {
    const PipelineShape shape{1, 2, 1, 4, 4};
    const std::uint64_t bytes = PipelineLayout::bytes_for(shape, list);
    struct AlignedDelete {  // what aligned new[] took, aligned delete[] gives back (ASan checks)
      void operator()(std::byte* p) const { ::operator delete[](p, std::align_val_t{128}); }
    };
    const std::unique_ptr<std::byte[], AlignedDelete> holder(new (std::align_val_t{128}) std::byte[bytes]());
    const PipelineLayout layout = PipelineLayout::format(holder.get(), shape, list, "sources-test");
    for (std::size_t i = 0; i < list.size(); ++i) {
      const InputFile& in = list.files[i];
      const FileEntry& entry = layout.file(i);
      CHECK(layout.path(entry) == list.path(in));
      CHECK(layout.source(entry) == list.source_file(in));
      CHECK(layout.source_path(entry) == list.source_path(in));
      CHECK(layout.open_error(entry) == list.open_error(in));
      CHECK(entry.key_cik == in.key_cik);
      CHECK(entry.size == in.size);
    }
  }
}

TEST_CASE("Inputs: named on the command line", "[sources]") {
  Tree tree;
  // A FIFO named directly is an input that says what it is, not a read that never returns.
  const InputList fifo = enumerate_inputs({(tree.root / "top/submissions/CIK0000000006.json").string()}, {});
  REQUIRE(fifo.size() == 1);
  CHECK(fifo.open_error(fifo.files[0]).find("a FIFO") != std::string_view::npos);
  // A broken link or a loop named directly is a usage error saying so.
  CHECK_THROWS_WITH(enumerate_inputs({(tree.root / "top/CIK0000000005.json").string()}, {}),
                    Catch::Contains("broken symbolic link"));
  fs::create_symlink(tree.root / "loop.json", tree.root / "loop.json");
  CHECK_THROWS_WITH(enumerate_inputs({(tree.root / "loop.json").string()}, {}), Catch::Contains("symbolic link loop"));
  // The same file named twice, directly and by its folder, is one input.
  const InputList twice = enumerate_inputs(
      {(tree.root / "outside").string(), (tree.root / "outside/CIK0000000003.json").string()}, InputOptions{});
  CHECK(twice.size() == 2);  // CIK3 once, and folder/CIK4
}
