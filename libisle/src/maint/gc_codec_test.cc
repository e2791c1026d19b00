// GC state objects: round trips, the merge rules of PendingMarks, and bad
// bytes (Corruption / NotSupported, never a crash).
#include "maint/gc_codec.h"

#include <gtest/gtest.h>

namespace isle {
namespace {

TEST(GcCodec, PendingMarksRoundTripSortedAndUnique) {
  PendingMarks p;
  EXPECT_TRUE(p.add({"b", 10, 20, std::vector<std::string>{"h1", "h2"}, "removed"}));
  EXPECT_TRUE(p.add({"a", 11, 21, std::nullopt, "orphan"}));
  EXPECT_FALSE(p.add({"b", 99, 99, std::nullopt, "removed"})) << "the earlier mark wins";
  ASSERT_EQ(p.marks.size(), 2u);
  EXPECT_EQ(p.marks[0].id, "a");
  EXPECT_EQ(p.find("b")->due_ms, 20);
  auto d = decode_pending_marks(encode_pending_marks(p), "pending");
  ASSERT_TRUE(d.ok()) << d.status().to_string();
  EXPECT_EQ(*d, p);
  EXPECT_FALSE(d->find("a")->blobs.has_value()) << "unknown blobs stay unknown";
  EXPECT_TRUE(p.remove("a"));
  EXPECT_FALSE(p.remove("a"));
  EXPECT_EQ(p.find("a"), nullptr);
}

TEST(GcCodec, CheckpointRoundTrip) {
  GcCheckpoint c;
  c.pos = 42;
  c.live = {{"x", {"h"}}, {"y", {}}};
  c.log_starts = {{1, 5}, {40, 7}};
  c.updated_ms = 9;
  auto d = decode_gc_checkpoint(encode_gc_checkpoint(c), "checkpoint");
  ASSERT_TRUE(d.ok()) << d.status().to_string();
  EXPECT_EQ(*d, c);
}

TEST(GcCodec, BadBytesAreCorruptionAndNewerFormatsNotSupported) {
  for (std::string bad : {"", "{", "[]", "{\"format\":1}", "{\"format\":1,\"marks\":[{\"id\":3}]}",
                          "{\"format\":1,\"marks\":[{\"id\":\"a\",\"due_ms\":\"x\"}]}"}) {
    auto d = decode_pending_marks(bad, "pending");
    ASSERT_FALSE(d.ok()) << bad;
    EXPECT_TRUE(d.status().is_corruption()) << bad << " " << d.status().to_string();
  }
  auto c = decode_gc_checkpoint("{\"format\":1,\"pos\":-1,\"live\":[],\"log_starts\":[]}", "cp");
  EXPECT_TRUE(c.status().is_corruption());
  auto n = decode_pending_marks("{\"format\":2,\"marks\":[]}", "pending");
  EXPECT_EQ(n.status().code(), Code::kNotSupported);
}

}  // namespace
}  // namespace isle
