// readerd and tailerd say at start when integrity checks are relaxed
// (issue 14, item 9): `<section>.allow_unverified_range_reads` with
// verification on, and `<section>.verify_blobs: false`, each log a warning
// naming the key; with the defaults neither line appears.
#include "daemons/daemon_test.h"

namespace isle::daemontest {
namespace {

class ReaderVerifyLogTest : public DaemonTest {};

TEST_F(ReaderVerifyLogTest, RelaxedChecksAreLoggedAtStart) {
  for (const std::string section : {"reader", "tailer"}) {
    const std::string name = section + "d";
    SCOPED_TRACE(name);
    DaemonProcess& relaxed = add(name, {},
                                 {{section + ".verify_sha256", "true"},
                                  {section + ".allow_unverified_range_reads", "true"},
                                  {section + ".range_read_min_sst_size", "1MiB"},
                                  {section + ".verify_blobs", "false"}});
    ASSERT_TRUE(relaxed.start());
    const std::string log = relaxed.log();
    EXPECT_NE(log.find(section + ".allow_unverified_range_reads is on"), std::string::npos) << log;
    EXPECT_NE(log.find("1048576 bytes or more"), std::string::npos) << log;
    EXPECT_NE(log.find(section + ".verify_blobs is off"), std::string::npos) << log;

    DaemonProcess& strict = add(name, {}, {{section + ".verify_sha256", "true"}});
    ASSERT_TRUE(strict.start());
    const std::string quiet = strict.log();
    EXPECT_EQ(quiet.find("allow_unverified_range_reads is on"), std::string::npos) << quiet;
    EXPECT_EQ(quiet.find("verify_blobs is off"), std::string::npos) << quiet;
  }
}

}  // namespace
}  // namespace isle::daemontest
