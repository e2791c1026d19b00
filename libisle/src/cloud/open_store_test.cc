// Tests of open_object_store's URL handling. Behaviour of the backends
// themselves is covered by conformance_test.cc.
#include <gtest/gtest.h>

#include <filesystem>

#include "isle/object_store.h"
#include "testutil/testutil.h"

namespace isle {
namespace {

TEST(OpenStoreTest, MemIsPrivate) {
  auto a = open_object_store("mem://");
  auto b = open_object_store("mem://");
  ASSERT_TRUE(a.ok()) << a.status().to_string();
  ASSERT_TRUE(b.ok()) << b.status().to_string();
  EXPECT_NE(a->get(), b->get());
  ASSERT_TRUE((*a)->put("k", "v").ok());
  EXPECT_TRUE((*b)->head("k").status().is_not_found());
  EXPECT_EQ((*a)->url(), "mem://");
}

TEST(OpenStoreTest, MemNamedIsShared) {
  auto a = open_object_store("mem://open-store-test-shared");
  auto b = open_object_store("mem://open-store-test-shared");
  auto c = open_object_store("mem://open-store-test-other");
  ASSERT_TRUE(a.ok() && b.ok() && c.ok());
  EXPECT_EQ(a->get(), b->get());
  EXPECT_NE(a->get(), c->get());
  ASSERT_TRUE((*a)->put("k", "shared").ok());
  auto got = (*b)->get("k");
  ASSERT_TRUE(got.ok());
  EXPECT_EQ(got->data, "shared");
  EXPECT_TRUE((*c)->head("k").status().is_not_found());
  EXPECT_EQ((*a)->url(), "mem://open-store-test-shared");
}

TEST(OpenStoreTest, MemBadName) {
  EXPECT_TRUE(open_object_store("mem://a/b").status().is_invalid_argument());
}

TEST(OpenStoreTest, FileAbsolute) {
  testing::TempDir dir;
  std::string root = dir.path() + "/nested/store";
  auto s = open_object_store("file://" + root);
  ASSERT_TRUE(s.ok()) << s.status().to_string();
  EXPECT_TRUE(std::filesystem::is_directory(root));
  EXPECT_EQ((*s)->url(), "file://" + root);
  ASSERT_TRUE((*s)->put("x", "y").ok());
  EXPECT_TRUE(std::filesystem::exists(root + "/x"));
}

TEST(OpenStoreTest, FilePercentDecoded) {
  testing::TempDir dir;
  auto s = open_object_store("file://" + dir.path() + "/with%20space");
  ASSERT_TRUE(s.ok()) << s.status().to_string();
  EXPECT_TRUE(std::filesystem::is_directory(dir.path() + "/with space"));
  EXPECT_TRUE(open_object_store("file://" + dir.path() + "/bad%2").status().is_invalid_argument());
  EXPECT_TRUE(open_object_store("file://" + dir.path() + "/bad%zz").status().is_invalid_argument());
  EXPECT_TRUE(open_object_store("file://" + dir.path() + "/nul%00").status().is_invalid_argument());
}

TEST(OpenStoreTest, FileRejectsHostAndRelative) {
  EXPECT_TRUE(open_object_store("file://host/tmp/x").status().is_invalid_argument());
  EXPECT_TRUE(open_object_store("file://relative/path").status().is_invalid_argument());
  EXPECT_TRUE(open_object_store("file://").status().is_invalid_argument());
  EXPECT_TRUE(open_object_store("file:relative").status().is_invalid_argument());
  EXPECT_TRUE(open_object_store("file:///tmp/x?opt=1").status().is_invalid_argument());
}

TEST(OpenStoreTest, FileRootIsAFile) {
  testing::TempDir dir;
  std::string f = dir.path() + "/plain";
  FILE* fp = fopen(f.c_str(), "w");
  ASSERT_NE(fp, nullptr);
  fclose(fp);
  auto s = open_object_store("file://" + f);
  EXPECT_FALSE(s.ok());
}

TEST(OpenStoreTest, UnknownSchemeNamesIt) {
  for (std::string scheme : {"ftp", "hdfs", "s4"}) {
    auto s = open_object_store(scheme + "://bucket/prefix");
    ASSERT_FALSE(s.ok());
    EXPECT_EQ(s.status().code(), Code::kNotSupported) << scheme;
    EXPECT_NE(s.status().message().find("'" + scheme + "'"), std::string::npos)
        << s.status().message();
  }
}

TEST(OpenStoreTest, CloudUrlsWithAPathAreRefused) {
  // The bucket is the authority; IsleDB's prefix is a separate setting.
  for (std::string url : {"s3://bucket/prefix", "gs://bucket/p", "azblob://c/p?endpoint=http://h"}) {
    auto s = open_object_store(url);
    ASSERT_FALSE(s.ok()) << url;
    EXPECT_EQ(s.status().code(), Code::kInvalidArgument) << s.status().to_string();
    EXPECT_NE(s.status().message().find("prefix"), std::string::npos) << s.status().message();
  }
}

TEST(OpenStoreTest, SchemeIsCaseInsensitive) {
  EXPECT_TRUE(open_object_store("MEM://").ok());
}

TEST(OpenStoreTest, Malformed) {
  for (std::string url : {"", "mem", "://x", "1mem://", "me m://", "/tmp/x", "mem:/x"}) {
    EXPECT_TRUE(open_object_store(url).status().is_invalid_argument()) << "'" << url << "'";
  }
}

}  // namespace
}  // namespace isle
