#include "vmadapters/disk_images.hpp"

#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>

#include "vmadapters/errors.hpp"
#include "tests/support/temp_dir.hpp"

namespace vmrep::vmadapters {
namespace {

namespace fs = std::filesystem;
using std::chrono::milliseconds;

bool have(const char* tool) { return run_process({"sh", "-c", std::string("command -v ") + tool}, milliseconds(5000)).exit_code == 0; }

using TempDir = vmrep::test::TempDir;

void must(const std::vector<std::string>& argv) {
  const ProcessResult r = run_process(argv, milliseconds(30000));
  ASSERT_EQ(r.exit_code, 0) << argv[0] << " " << argv[1] << ": " << r.output;
}

TEST(DiskImages, ChainJsonNestsBackingsAndCutsTheBase) {
  const std::string json = chain_json({{"/x/base.img", "raw"}, {"/x/a.qcow2", "qcow2"}, {"/x/b.qcow2", "qcow2"}});
  EXPECT_EQ(json,
            "json:{\"driver\":\"qcow2\",\"file\":{\"driver\":\"file\",\"filename\":\"/x/b.qcow2\"},\"backing\":"
            "{\"driver\":\"qcow2\",\"file\":{\"driver\":\"file\",\"filename\":\"/x/a.qcow2\"},\"backing\":"
            "{\"driver\":\"raw\",\"file\":{\"driver\":\"file\",\"filename\":\"/x/base.img\"}}}}");
  EXPECT_THROW(chain_json({}), VmError);
}

TEST(DiskImages, RunProcessKillsAChildThatOverrunsItsTimeout) {
  const auto started = std::chrono::steady_clock::now();
  const ProcessResult r = run_process({"sleep", "10"}, milliseconds(200));
  EXPECT_TRUE(r.timed_out);
  EXPECT_NE(r.exit_code, 0);
  EXPECT_LT(std::chrono::steady_clock::now() - started, std::chrono::seconds(5));
  EXPECT_THROW(run_process({"/nonexistent/vmrep-tool"}, milliseconds(1000)), VmError);
}

TEST(DiskImages, FlattenFollowsTheGivenChainNotTheHeaders) {
  if (!have("qemu-img") || !have("qemu-io")) GTEST_SKIP() << "qemu-img/qemu-io not installed (apt-get install qemu-utils)";
  TempDir dir;
  const fs::path base = dir.path() / "base.qcow2";
  const fs::path top = dir.path() / "top.qcow2";
  must({"qemu-img", "create", "-q", "-f", "qcow2", base.string(), "1M"});
  must({"qemu-io", "-c", "write -P 0x11 0 64k", base.string()});
  create_overlay({base, "qcow2"}, top);
  must({"qemu-io", "-c", "write -P 0x22 64k 64k", top.string()});
  // As on a backup: the layers arrive under other names than their headers say.
  fs::create_directories(dir.path() / "received");
  const fs::path moved = dir.path() / "received" / "layer0.qcow2";
  fs::rename(base, moved);
  const fs::path flat = dir.path() / "flat.qcow2";
  flatten_chain({{moved, "qcow2"}, {top, "qcow2"}}, flat);
  must({"qemu-io", "-c", "read -P 0x11 0 64k", "-c", "read -P 0x22 64k 64k", "-c", "read -P 0 128k 64k", flat.string()});
  const ProcessResult info = run_process({"qemu-img", "info", flat.string()}, milliseconds(30000));
  EXPECT_EQ(info.output.find("backing file"), std::string::npos) << info.output;
  EXPECT_FALSE(fs::exists(flat.string() + ".tmp"));
}

TEST(DiskImages, FlattenOfAMissingLayerIsAClearErrorAndWritesNothing) {
  TempDir dir;
  const fs::path flat = dir.path() / "flat.qcow2";
  try {
    flatten_chain({{dir.path() / "gone.qcow2", "qcow2"}}, flat);
    FAIL() << "expected VmError";
  } catch (const VmError& e) {
    EXPECT_NE(std::string(e.what()).find("gone.qcow2"), std::string::npos) << e.what();
    EXPECT_NE(std::string(e.what()).find("flatten disk"), std::string::npos) << e.what();
  }
  EXPECT_FALSE(fs::exists(flat));
}

TEST(DiskImages, FlattenOfACorruptLayerReportsQemuImg) {
  if (!have("qemu-img")) GTEST_SKIP() << "qemu-img not installed (apt-get install qemu-utils)";
  TempDir dir;
  const fs::path junk = dir.path() / "junk.qcow2";
  { std::FILE* f = std::fopen(junk.c_str(), "w"); ASSERT_NE(f, nullptr); std::fputs("not an image", f); std::fclose(f); }
  const fs::path flat = dir.path() / "flat.qcow2";
  try {
    flatten_chain({{junk, "qcow2"}}, flat);
    FAIL() << "expected VmError";
  } catch (const VmError& e) {
    EXPECT_NE(std::string(e.what()).find("qemu-img convert"), std::string::npos) << e.what();
  }
  EXPECT_FALSE(fs::exists(flat));
  EXPECT_FALSE(fs::exists(flat.string() + ".tmp"));
}

}  // namespace
}  // namespace vmrep::vmadapters
