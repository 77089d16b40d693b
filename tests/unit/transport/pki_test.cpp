#include <gtest/gtest.h>
#include <sys/stat.h>

#include <ctime>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <memory>
#include <stdexcept>
#include <string>

#include <openssl/pem.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include "test_support.hpp"
#include "transport/pki.hpp"

namespace vmrep::transport {
namespace {

using test::TempDir;

struct X509Free {
  void operator()(X509* x) const { X509_free(x); }
};
using CertPtr = std::unique_ptr<X509, X509Free>;

CertPtr load(const std::string& file) {
  FILE* f = std::fopen(file.c_str(), "r");
  if (f == nullptr) return nullptr;
  CertPtr cert(PEM_read_X509(f, nullptr, nullptr, nullptr));
  std::fclose(f);
  return cert;
}

// X509_verify_cert of `leaf` against `ca` as the only trust anchor.
bool verifies(X509* ca, X509* leaf, int purpose) {
  X509_STORE* store = X509_STORE_new();
  X509_STORE_add_cert(store, ca);
  X509_STORE_CTX* ctx = X509_STORE_CTX_new();
  X509_STORE_CTX_init(ctx, store, leaf, nullptr);
  X509_STORE_CTX_set_purpose(ctx, purpose);
  const bool ok = X509_verify_cert(ctx) == 1;
  if (!ok) ADD_FAILURE() << X509_verify_cert_error_string(X509_STORE_CTX_get_error(ctx));
  X509_STORE_CTX_free(ctx);
  X509_STORE_free(store);
  return ok;
}

mode_t mode_of(const std::string& file) {
  struct stat st {};
  ::stat(file.c_str(), &st);
  return st.st_mode & 0777;
}

std::string thrown_by(const std::function<void()>& f) {
  try {
    f();
  } catch (const std::runtime_error& e) {
    return e.what();
  }
  return "(nothing thrown)";
}

TEST(Pki, InitThenIssue_ProducesCertificatesOpenSslVerifies) {
  TempDir dir;
  pki::init(dir.str(), "c1");
  pki::issue(dir.str(), "h1");
  pki::issue(dir.str(), "h2");

  CertPtr ca = load(dir.file("ca.crt"));
  CertPtr h1 = load(dir.file("h1.crt"));
  ASSERT_TRUE(ca && h1);
  EXPECT_TRUE(verifies(ca.get(), h1.get(), X509_PURPOSE_SSL_SERVER));
  EXPECT_TRUE(verifies(ca.get(), h1.get(), X509_PURPOSE_SSL_CLIENT));
  EXPECT_EQ(X509_check_ca(ca.get()), 1);
  EXPECT_EQ(X509_check_ca(h1.get()), 0);
  EXPECT_EQ(X509_check_host(h1.get(), "h1", 0, 0, nullptr), 1);  // subjectAltName DNS:h1
  EXPECT_EQ(X509_check_host(h1.get(), "h2", 0, 0, nullptr), 0);
  const uint32_t ku = X509_get_key_usage(h1.get());
  EXPECT_TRUE(ku & KU_DIGITAL_SIGNATURE);
  EXPECT_TRUE(ku & KU_KEY_ENCIPHERMENT);
  EXPECT_FALSE(ku & KU_KEY_CERT_SIGN);

  EVP_PKEY* key = X509_get0_pubkey(h1.get());
  ASSERT_NE(key, nullptr);
  EXPECT_EQ(EVP_PKEY_get_base_id(key), EVP_PKEY_EC);
  char group[64] = {};
  std::size_t len = 0;
  EVP_PKEY_get_group_name(key, group, sizeof group, &len);
  EXPECT_STREQ(group, "prime256v1");

  // Random serials: two certificates do not share one.
  CertPtr h2 = load(dir.file("h2.crt"));
  EXPECT_NE(ASN1_INTEGER_cmp(X509_get0_serialNumber(h1.get()), X509_get0_serialNumber(h2.get())), 0);

  EXPECT_EQ(mode_of(dir.file("ca.key")), 0600u);
  EXPECT_EQ(mode_of(dir.file("h1.key")), 0600u);
}

std::string subject_o(X509* cert) {
  char text[128] = {};
  X509_NAME_get_text_by_NID(X509_get_subject_name(cert), NID_organizationName, text, sizeof text);
  return text;
}

TEST(Pki, Issue_PutsTheClusterInO_TheCasUnlessGiven) {
  TempDir dir;
  pki::init(dir.str(), "c1");
  pki::issue(dir.str(), "h1");
  pki::issue(dir.str(), "h2", 825, "c2");
  CertPtr h1 = load(dir.file("h1.crt"));
  CertPtr h2 = load(dir.file("h2.crt"));
  ASSERT_TRUE(h1 && h2);
  EXPECT_EQ(subject_o(h1.get()), "c1");
  EXPECT_EQ(subject_o(h2.get()), "c2");
  EXPECT_NE(thrown_by([&] { pki::issue(dir.str(), "h3", 825, "bad/name"); }).find("invalid cluster name"),
            std::string::npos);
}

TEST(PkiExpiry, DaysLeft_RoundsDownAndGoesNegativeOnceExpired) {
  constexpr std::int64_t day = 86400, t0 = 1'800'000'000;
  EXPECT_EQ(pki::days_left(t0 + 30 * day, t0), 30);
  EXPECT_EQ(pki::days_left(t0 + 30 * day - 1, t0), 29);
  EXPECT_EQ(pki::days_left(t0, t0), 0);
  EXPECT_EQ(pki::days_left(t0 - 1, t0), -1);
  EXPECT_EQ(pki::days_left(t0 - day - 1, t0), -2);
}

TEST(PkiExpiry, Level_WarnsUnderThirtyDays_ExpiredAfterNotAfter) {
  constexpr std::int64_t day = 86400, not_after = 1'800'000'000;
  EXPECT_EQ(pki::expiry_level(not_after, not_after - 30 * day), pki::ExpiryLevel::ok);
  EXPECT_EQ(pki::expiry_level(not_after, not_after - 30 * day + 1), pki::ExpiryLevel::warning);
  EXPECT_EQ(pki::expiry_level(not_after, not_after), pki::ExpiryLevel::warning);
  EXPECT_EQ(pki::expiry_level(not_after, not_after + 1), pki::ExpiryLevel::expired);
  EXPECT_EQ(pki::expiry_message("/p/h1.crt", not_after, not_after - 31 * day), "");
  const std::string soon = pki::expiry_message("/p/h1.crt", not_after, not_after - 10 * day);
  EXPECT_NE(soon.find("TLS certificate /p/h1.crt expires 2027-01-15T08:00:00Z, in 10 day(s)"), std::string::npos)
      << soon;
  const std::string gone = pki::expiry_message("/p/h1.crt", not_after, not_after + day);
  EXPECT_NE(gone.find("TLS certificate /p/h1.crt expired 2027-01-15T08:00:00Z"), std::string::npos) << gone;
  EXPECT_EQ(gone.find('\n'), std::string::npos);
}

TEST(PkiExpiry, IssueDays_SetsNotAfter) {
  TempDir dir;
  pki::init(dir.str(), "c1");
  const auto now = static_cast<std::int64_t>(std::time(nullptr));
  pki::issue(dir.str(), "h1", 10);
  const std::int64_t not_after = pki::certificate_not_after(dir.file("h1.crt"));
  EXPECT_NEAR(static_cast<double>(not_after - now), 10.0 * 86400, 60.0);
  EXPECT_EQ(pki::rfc3339(0), "1970-01-01T00:00:00Z");
  EXPECT_NE(thrown_by([&] { pki::certificate_not_after(dir.file("none.crt")); }).find(dir.file("none.crt")),
            std::string::npos);
}

TEST(Pki, OtherCa_DoesNotVerify) {
  TempDir a, b;
  pki::init(a.str(), "c1");
  pki::init(b.str(), "c1");
  pki::issue(b.str(), "h1");
  CertPtr ca = load(a.file("ca.crt"));
  CertPtr h1 = load(b.file("h1.crt"));
  X509_STORE* store = X509_STORE_new();
  X509_STORE_add_cert(store, ca.get());
  X509_STORE_CTX* ctx = X509_STORE_CTX_new();
  X509_STORE_CTX_init(ctx, store, h1.get(), nullptr);
  EXPECT_NE(X509_verify_cert(ctx), 1);
  X509_STORE_CTX_free(ctx);
  X509_STORE_free(store);
}

TEST(Pki, ExistingFiles_AreNeverOverwritten) {
  TempDir dir;
  pki::init(dir.str(), "c1");
  pki::issue(dir.str(), "h1");
  const auto before = std::filesystem::last_write_time(dir.path() / "h1.key");

  const std::string how = ": already exists; refusing to overwrite (to extend a node certificate, use vmrepctl pki "
                          "renew; to replace it, move the old files aside first, e.g. into old/, then run this "
                          "again; a daemon reads new files on SIGHUP)";
  EXPECT_EQ(thrown_by([&] { pki::init(dir.str(), "c1"); }), "pki: " + dir.file("ca.key") + how);
  EXPECT_EQ(thrown_by([&] { pki::issue(dir.str(), "h1"); }), "pki: " + dir.file("h1.key") + how);
  EXPECT_EQ(std::filesystem::last_write_time(dir.path() / "h1.key"), before);

  // Only the certificate left: still refused, and the key is not recreated.
  std::filesystem::remove(dir.path() / "h1.key");
  EXPECT_NE(thrown_by([&] { pki::issue(dir.str(), "h1"); }).find("h1.crt: already exists"), std::string::npos);
  EXPECT_FALSE(std::filesystem::exists(dir.path() / "h1.key"));
}

std::string file_text(const std::string& file) {
  std::ifstream in(file, std::ios::binary);
  return std::string(std::istreambuf_iterator<char>(in), {});
}

TEST(Pki, Renew_NewExpirySameKeyAndNames_StillVerifies) {
  TempDir dir;
  pki::init(dir.str(), "c1");
  pki::issue(dir.str(), "h1", 5, "c2");
  const std::string key_before = file_text(dir.file("h1.key"));
  const auto now = static_cast<std::int64_t>(std::time(nullptr));
  const pki::Renewal r = pki::renew(dir.str(), "h1", 400);
  EXPECT_NEAR(static_cast<double>(r.old_not_after - now), 5.0 * 86400, 60.0);
  EXPECT_NEAR(static_cast<double>(r.new_not_after - now), 400.0 * 86400, 60.0);
  EXPECT_EQ(pki::certificate_not_after(dir.file("h1.crt")), r.new_not_after);
  EXPECT_EQ(file_text(dir.file("h1.key")), key_before);  // the key stays: peers need nothing new
  EXPECT_EQ(mode_of(dir.file("h1.key")), 0600u);
  EXPECT_EQ(mode_of(dir.file("h1.crt")), 0644u);
  EXPECT_FALSE(std::filesystem::exists(dir.path() / "h1.crt.new"));
  CertPtr ca = load(dir.file("ca.crt"));
  CertPtr h1 = load(dir.file("h1.crt"));
  ASSERT_TRUE(ca && h1);
  EXPECT_TRUE(verifies(ca.get(), h1.get(), X509_PURPOSE_SSL_SERVER));
  EXPECT_EQ(subject_o(h1.get()), "c2");  // the old certificate's cluster, not the CA's
  char cn[64] = {};
  X509_NAME_get_text_by_NID(X509_get_subject_name(h1.get()), NID_commonName, cn, sizeof cn);
  EXPECT_STREQ(cn, "h1");
}

TEST(Pki, Renew_RefusesWithoutAMatchingKey_NamingTheFile) {
  TempDir dir;
  pki::init(dir.str(), "c1");
  pki::issue(dir.str(), "h1");
  pki::issue(dir.str(), "h2");
  EXPECT_NE(thrown_by([&] { pki::renew(dir.str(), "h3"); }).find(dir.file("h3.key")), std::string::npos);
  std::filesystem::copy_file(dir.path() / "h2.key", dir.path() / "h1.key",
                             std::filesystem::copy_options::overwrite_existing);
  const std::string before = file_text(dir.file("h1.crt"));
  EXPECT_NE(thrown_by([&] { pki::renew(dir.str(), "h1"); }).find("does not match " + dir.file("h1.crt")),
            std::string::npos);
  EXPECT_EQ(file_text(dir.file("h1.crt")), before);
}

TEST(Pki, IssueWithoutCa_NamesTheFile) {
  TempDir dir;
  const std::string what = thrown_by([&] { pki::issue(dir.str(), "h1"); });
  EXPECT_NE(what.find(dir.file("ca.crt")), std::string::npos) << what;
  EXPECT_EQ(what.find('\n'), std::string::npos);
  EXPECT_FALSE(std::filesystem::exists(dir.path() / "h1.key"));
}

TEST(Pki, BadNodeName_IsRefused) {
  TempDir dir;
  pki::init(dir.str(), "c1");
  for (const char* name : {"", "../evil", "a/b", "ca", ".hidden", "white space"}) {
    EXPECT_NE(thrown_by([&] { pki::issue(dir.str(), name); }).find("invalid node name"), std::string::npos)
        << name;
  }
}

}  // namespace
}  // namespace vmrep::transport
