// Secret files the daemon reads at start: refused when group or others can
// read them (controller/replication_setup.hpp; the TLS key of the mesh,
// transport/tls_context.cpp, read by the same daemon).
#include "controller/replication_setup.hpp"

#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <fstream>
#include <functional>
#include <stdexcept>
#include <string>

#include "tests/support/temp_dir.hpp"
#include "transport/pki.hpp"
#include "transport/tls_context.hpp"

namespace vmrep::controller {
namespace {

std::string write_key(const vmrep::test::TempDir& dir, const std::string& name, mode_t mode) {
  const std::string path = dir.file(name);
  std::ofstream(path, std::ios::binary) << std::string(32, 'k');
  EXPECT_EQ(::chmod(path.c_str(), mode), 0);
  return path;
}

std::string error_of(const std::function<void()>& fn) {
  try {
    fn();
  } catch (const std::runtime_error& e) {
    return e.what();
  }
  return {};
}

TEST(ClusterKey, Rule_ReadableByGroupOrOthers_IsRefusedWithTheFix) {
  const vmrep::test::TempDir dir("keys");
  const std::string path = write_key(dir, "cluster.key", 0644);
  const std::string error = error_of([&] { read_cluster_key(path); });
  EXPECT_NE(error.find("replication.cluster_key " + path + ": readable by group or others (mode 0644)"),
            std::string::npos)
      << error;
  EXPECT_NE(error.find("chmod 600 " + path), std::string::npos) << error;
  EXPECT_EQ(error.find('\n'), std::string::npos) << "one line";

  ::chmod(path.c_str(), 0640);
  EXPECT_NE(error_of([&] { read_cluster_key(path); }).find("chmod 600"), std::string::npos);
  ::chmod(path.c_str(), 0602);  // writable by others: as bad (they can replace it)
  EXPECT_NE(error_of([&] { read_cluster_key(path); }).find("(mode 0602)"), std::string::npos);
}

TEST(ClusterKey, Rule_OwnerOnly_Loads) {
  const vmrep::test::TempDir dir("keys");
  const std::string path = write_key(dir, "cluster.key", 0600);
  EXPECT_EQ(error_of([&] { read_cluster_key(path); }), "");
  ::chmod(path.c_str(), 0400);
  EXPECT_EQ(error_of([&] { read_cluster_key(path); }), "");
}

TEST(ClusterKey, Rule_Missing_SaysHowToCreateItPrivate) {
  const vmrep::test::TempDir dir("keys");
  const std::string error = error_of([&] { read_cluster_key(dir.file("absent.key")); });
  EXPECT_NE(error.find("(umask 077; head -c 32 /dev/urandom > " + dir.file("absent.key") + ")"), std::string::npos)
      << error;
}

TEST(SshKey, Rule_SharedIsRefused_OwnerOnlyOrAbsentPasses) {
  const vmrep::test::TempDir dir("keys");
  const std::string path = write_key(dir, "id_ed25519", 0644);
  const std::string error = error_of([&] { refuse_if_shared("replication.ssh_key", path); });
  const std::string expected =
      "replication.ssh_key " + path + ": readable by group or others (mode 0644); fix with: chmod 600 " + path;
  EXPECT_NE(error.find(expected), std::string::npos) << error;
  ::chmod(path.c_str(), 0600);
  EXPECT_EQ(error_of([&] { refuse_if_shared("replication.ssh_key", path); }), "");
  EXPECT_EQ(error_of([&] { refuse_if_shared("replication.ssh_key", dir.file("absent")); }), "");
}

TEST(StoreOwner, Rule_UnknownUserOrRootIsRefusedNamingTheSetting) {
  const vmrep::test::TempDir dir("data");
  const std::string unknown = error_of([&] { set_up_store_owner("no-such-user-vmrep", dir.path()); });
  EXPECT_NE(unknown.find("replication.store_owner 'no-such-user-vmrep': no such user on this host"), std::string::npos)
      << unknown;
  EXPECT_NE(unknown.find("useradd --system"), std::string::npos) << unknown;
  const std::string root = error_of([&] { set_up_store_owner("root", dir.path()); });
  EXPECT_NE(root.find("is root"), std::string::npos) << root;
  EXPECT_EQ(error_of([&] { set_up_store_owner("", dir.path()); }), "");  // none: the daemon's user
}

TEST(StoreOwner, Rule_DataDirBecomesSearchableNotReadable) {
  if (::geteuid() != 0) GTEST_SKIP() << "chown needs root (CI runs as root)";
  const vmrep::test::TempDir dir("data");
  ASSERT_EQ(::chmod(dir.path().c_str(), 0700), 0);
  EXPECT_EQ(error_of([&] { set_up_store_owner("nobody", dir.path()); }), "");
  struct stat st {};
  ASSERT_EQ(::stat(dir.path().c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 07777, 0711u);
  set_up_store_owner("", dir.path());  // leave no owner behind for other tests
}

TEST(TlsKey, Rule_SharedIsRefusedWithTheFix_OwnerOnlyLoads) {
  const vmrep::test::TempDir dir("pki");
  transport::pki::init(dir.str(), "c1");
  transport::pki::issue(dir.str(), "h1");
  const std::string key = dir.file("h1.key");
  const auto load = [&] { transport::detail::make_tls_context(dir.file("ca.crt"), dir.file("h1.crt"), key); };
  EXPECT_EQ(error_of(load), "") << "pki issue writes keys 0600";
  ASSERT_EQ(::chmod(key.c_str(), 0644), 0);
  const std::string error = error_of(load);
  const std::string expected = "tls.key " + key + ": readable by group or others (mode 0644); fix with: chmod 600 " + key;
  EXPECT_NE(error.find(expected), std::string::npos) << error;
}

}  // namespace
}  // namespace vmrep::controller
