#include "vmadapters/domain_xml.hpp"

#include <gtest/gtest.h>

#include "vmadapters/errors.hpp"

namespace vmrep::vmadapters {
namespace {

// Shaped like libvirt 9.0's live XML after two checkpoints.
const char* const live_xml = R"(<domain type='qemu' id='3'>
  <name>board</name>
  <os><type arch='x86_64' machine='pc'>hvm</type><kernel>/guest/vmlinuz</kernel><initrd>/guest/initrd.img</initrd></os>
  <devices>
    <disk type='file' device='disk'>
      <driver name='qemu' type='qcow2'/>
      <source file='/a/ck2/vda.qcow2' index='3'/>
      <backingStore type='file' index='2'>
        <format type='qcow2'/>
        <source file='/a/ck1/vda.qcow2'/>
        <backingStore type='file' index='1'>
          <format type='raw'/>
          <source file='/a/base.img'/>
          <backingStore/>
        </backingStore>
      </backingStore>
      <target dev='vda' bus='virtio'/>
    </disk>
    <disk type='file' device='cdrom'>
      <source file='/iso/x.iso'/>
      <target dev='hdc' bus='ide'/>
      <readonly/>
    </disk>
    <serial type='unix'><source mode='bind' path='/a/board.sock'/><target port='0'/></serial>
    <console type='unix'><source mode='bind' path='/a/board.sock'/><target type='serial' port='0'/></console>
  </devices>
</domain>)";

TEST(DomainXml, DiskChainsListWritableFileDisksBaseFirst) {
  const auto chains = xml::disk_chains(live_xml);
  ASSERT_EQ(chains.size(), 1u);
  EXPECT_EQ(chains[0].target, "vda");
  ASSERT_EQ(chains[0].layers.size(), 3u);
  EXPECT_EQ(chains[0].layers[0], (DiskLayer{"/a/base.img", "raw"}));
  EXPECT_EQ(chains[0].layers[1], (DiskLayer{"/a/ck1/vda.qcow2", "qcow2"}));
  EXPECT_EQ(chains[0].layers[2], (DiskLayer{"/a/ck2/vda.qcow2", "qcow2"}));
  EXPECT_EQ(xml::excluded_disk_targets(live_xml), std::vector<std::string>{"hdc"});
  EXPECT_EQ(xml::domain_name(live_xml), "board");
}

TEST(DomainXml, RewriteForRestorePointsDisksAtLocalImagesAndRewritesPaths) {
  const std::string out = xml::rewrite_for_restore(live_xml, {{"vda", {"/b/flat.qcow2", "qcow2"}}},
                                                   {{"/a/board.sock", "/b/board.sock"}, {"/guest/vmlinuz", "/g/vmlinuz"}});
  EXPECT_NE(out.find("file=\"/b/flat.qcow2\""), std::string::npos) << out;
  EXPECT_EQ(out.find("backingStore"), std::string::npos) << out;
  EXPECT_EQ(out.find("/a/"), std::string::npos) << out;
  EXPECT_NE(out.find("<kernel>/g/vmlinuz</kernel>"), std::string::npos) << out;
  EXPECT_NE(out.find("/iso/x.iso"), std::string::npos) << "read-only disks stay as they are";
  const auto chains = xml::disk_chains(out);
  ASSERT_EQ(chains.size(), 1u);
  EXPECT_EQ(chains[0].layers, (std::vector<DiskLayer>{{"/b/flat.qcow2", "qcow2"}}));
}

TEST(DomainXml, RewriteRefusesADiskWithoutImage) {
  try {
    xml::rewrite_for_restore(live_xml, {}, {});
    FAIL() << "expected VmError";
  } catch (const VmError& e) {
    EXPECT_EQ(e.kind(), VmError::Kind::invalid_argument);
    EXPECT_NE(std::string(e.what()).find("disk vda"), std::string::npos) << e.what();
    EXPECT_NE(std::string(e.what()).find("'board'"), std::string::npos) << e.what();
  }
}

TEST(DomainXml, RewriteRefusesAnImageForAnUnknownDisk) {
  EXPECT_THROW(xml::rewrite_for_restore(live_xml, {{"vda", {"/b/x.qcow2"}}, {"vdz", {"/b/y.qcow2"}}}, {}), VmError);
}

TEST(DomainXml, NotXmlIsAClearError) {
  try {
    xml::domain_name("<domain><name>x</name");
    FAIL() << "expected VmError";
  } catch (const VmError& e) {
    EXPECT_EQ(e.kind(), VmError::Kind::invalid_argument);
    EXPECT_NE(std::string(e.what()).find("parse domain XML"), std::string::npos) << e.what();
  }
  EXPECT_THROW(xml::domain_name("<network><name>x</name></network>"), VmError);
  EXPECT_THROW(xml::domain_name("<domain/>"), VmError);
}

TEST(DomainXml, WritableNetworkDiskCannotBeCheckpointed) {
  const char* const network_disk = R"(<domain><name>n</name><devices>
    <disk type='network' device='disk'><source protocol='nbd' name='x'/><target dev='vda'/></disk>
  </devices></domain>)";
  try {
    xml::excluded_disk_targets(network_disk);
    FAIL() << "expected VmError";
  } catch (const VmError& e) {
    EXPECT_EQ(e.kind(), VmError::Kind::unsupported);
  }
}

TEST(DomainXml, SnapshotXmlNamesMemoryOverlaysAndSkippedDisks) {
  const std::string out = xml::snapshot_xml("s'1", "/c/memory.img", {{"vda", "/c/vda.qcow2"}}, {"hdc"});
  EXPECT_NE(out.find("<memory snapshot='external' file='/c/memory.img'/>"), std::string::npos) << out;
  EXPECT_NE(out.find("<disk name='vda' snapshot='external' type='file'>"), std::string::npos) << out;
  EXPECT_NE(out.find("<source file='/c/vda.qcow2'/>"), std::string::npos) << out;
  EXPECT_NE(out.find("<disk name='hdc' snapshot='no'/>"), std::string::npos) << out;
  EXPECT_NE(out.find("s&apos;1"), std::string::npos) << out;
}

}  // namespace
}  // namespace vmrep::vmadapters
