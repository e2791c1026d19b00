// HttpFramer: message boundaries on byte streams split at every position,
// and the malformed / oversized / unfollowable cases.
#include "http_framer.h"

#include <gtest/gtest.h>

#include "testutil/testutil.h"
#include "util/random.h"

#include <string>
#include <vector>

namespace isle::proxy {
namespace {

struct Out {
  std::vector<std::string> heads;  // "METHOD target" or status
  std::string forwarded;           // every byte released, in order
  bool malformed = false, too_large = false;
};

// Feeds `input` in pieces of `piece` bytes.
Out run(HttpFramer& f, const std::string& input, size_t piece, bool response = false,
        const char* method = "GET") {
  Out out;
  size_t pos = 0;
  while (pos < input.size()) {
    std::string_view chunk(input.data() + pos, std::min(piece, input.size() - pos));
    size_t off = 0;
    while (off < chunk.size()) {
      if (response) f.set_request_method(method);
      auto st = f.step(chunk.substr(off));
      switch (st.event) {
        case HttpFramer::Event::kNeedMore:
          break;
        case HttpFramer::Event::kHead:
          out.heads.push_back(response ? std::to_string(f.status()) : f.method() + " " + f.target());
          out.forwarded += f.head();
          break;
        case HttpFramer::Event::kBody:
          out.forwarded.append(chunk.substr(off, st.consumed));
          break;
        case HttpFramer::Event::kMalformed:
          out.malformed = true;
          return out;
        case HttpFramer::Event::kHeadTooLarge:
          out.too_large = true;
          return out;
      }
      off += st.consumed;
    }
    pos += chunk.size();
  }
  return out;
}

const std::string kStream =
    "PUT /b/k1 HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\n\r\nhello"
    "GET /b/k1 HTTP/1.1\r\nHost: x\r\n\r\n"
    "POST /b?delete HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n"
    "3;ext=1\r\nabc\r\n10\r\n0123456789abcdef\r\n0\r\nTrailer: t\r\n\r\n"
    "DELETE /b/k1 HTTP/1.1\r\ncontent-length: 0\r\n\r\n";

TEST(HttpFramerTest, SplitsKeepAliveRequestsAtEveryPieceSize) {
  for (size_t piece : {size_t{1}, size_t{2}, size_t{3}, size_t{7}, size_t{64}, kStream.size()}) {
    HttpFramer f(HttpFramer::Kind::kRequest, 1024);
    Out out = run(f, kStream, piece);
    ASSERT_FALSE(out.malformed) << piece;
    EXPECT_EQ(out.forwarded, kStream) << piece;
    EXPECT_EQ(out.heads, (std::vector<std::string>{"PUT /b/k1", "GET /b/k1", "POST /b?delete",
                                                   "DELETE /b/k1"}))
        << piece;
    EXPECT_TRUE(f.idle()) << piece;
  }
}

TEST(HttpFramerTest, ResponsesFollowTheRequestMethodAndStatus) {
  const std::string in =
      "HTTP/1.1 100 Continue\r\n\r\n"
      "HTTP/1.1 200 OK\r\nContent-Length: 3\r\n\r\nabc"
      "HTTP/1.1 204 No Content\r\n\r\n"
      "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n2\r\nhi\r\n0\r\n\r\n";
  for (size_t piece : {size_t{1}, size_t{5}, in.size()}) {
    HttpFramer f(HttpFramer::Kind::kResponse, 1024);
    Out out = run(f, in, piece, true);
    EXPECT_EQ(out.forwarded, in);
    EXPECT_EQ(out.heads, (std::vector<std::string>{"100", "200", "204", "200"}));
  }
  // A HEAD response's Content-Length announces no body.
  HttpFramer f(HttpFramer::Kind::kResponse, 1024);
  const std::string head =
      "HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\nHTTP/1.1 404 Not Found\r\nContent-Length: 0\r\n\r\n";
  Out out = run(f, head, 4, true, "HEAD");
  EXPECT_EQ(out.heads, (std::vector<std::string>{"200", "404"}));
  // Without a length, a response body runs until the connection closes.
  HttpFramer g(HttpFramer::Kind::kResponse, 1024);
  out = run(g, "HTTP/1.1 200 OK\r\n\r\nHTTP/1.1 200 OK\r\n\r\n", 3, true);
  EXPECT_EQ(out.heads.size(), 1u);
}

TEST(HttpFramerTest, MalformedRequestsAreReported) {
  for (const std::string& bad : {
           std::string("GET /\r\n\r\n"),                                  // no version
           std::string("GET / HTTP/2.0\r\n\r\n"),                         // version
           std::string("G@T / HTTP/1.1\r\n\r\n"),                         // method token
           std::string("GET / HTTP/1.1\nHost: x\n\n"),                    // bare LF
           std::string("GET / HTTP/1.1\r\nBad Header: x\r\n\r\n"),        // header name
           std::string("GET / HTTP/1.1\r\nA: b\r\n folded\r\n\r\n"),      // obs-fold
           std::string("PUT / HTTP/1.1\r\nContent-Length: 1x\r\n\r\n"),   // length
           std::string("PUT / HTTP/1.1\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\n"),
           std::string("PUT / HTTP/1.1\r\nContent-Length: 1\r\nTransfer-Encoding: chunked\r\n\r\n"),
           std::string("PUT / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n"),
           std::string("PUT / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n1\r\nab"),
           std::string("\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03"),  // a TLS hello
       }) {
    HttpFramer f(HttpFramer::Kind::kRequest, 1024);
    Out out = run(f, bad, 1);
    EXPECT_TRUE(out.malformed) << bad;
  }
}

TEST(HttpFramerTest, OversizedHeadIsReported) {
  HttpFramer f(HttpFramer::Kind::kRequest, 256);
  std::string big = "GET / HTTP/1.1\r\nX: " + std::string(300, 'a') + "\r\n\r\n";
  EXPECT_TRUE(run(f, big, 1000).too_large);
  HttpFramer g(HttpFramer::Kind::kRequest, 256);
  EXPECT_TRUE(run(g, big, 1).too_large);
  // Exactly at the limit is fine.
  HttpFramer h(HttpFramer::Kind::kRequest, 256);
  std::string fits = "GET / HTTP/1.1\r\nX: ";
  fits += std::string(256 - fits.size() - 4, 'a') + "\r\n\r\n";
  ASSERT_EQ(fits.size(), 256u);
  Out out = run(h, fits, 1);
  EXPECT_FALSE(out.too_large);
  EXPECT_EQ(out.heads.size(), 1u);
}

TEST(HttpFramerTest, UnfollowableMessagesSwitchToRaw) {
  HttpFramer f(HttpFramer::Kind::kRequest, 1024);
  const std::string up = "GET /ws HTTP/1.1\r\nUpgrade: websocket\r\n\r\n\x81\x05hello";
  Out out = run(f, up, 3);
  EXPECT_EQ(out.forwarded, up);
  EXPECT_TRUE(f.raw());
  EXPECT_EQ(f.raw_reason(), "Upgrade");
  HttpFramer g(HttpFramer::Kind::kRequest, 1024);
  out = run(g, "PUT / HTTP/1.1\r\nTransfer-Encoding: gzip\r\n\r\nxyz", 2);
  EXPECT_TRUE(g.raw());
  EXPECT_EQ(out.heads.size(), 1u);
  // to_raw hands back a partial head so no byte is lost.
  HttpFramer h(HttpFramer::Kind::kRequest, 1024);
  out = run(h, "GET /par", 100);
  EXPECT_EQ(h.to_raw("test"), "GET /par");
}

// Mutated streams (bytes flipped, inserted, cut) in random pieces: the
// framer never forwards a byte that is not the next input byte, and it
// always either forwards, buffers or reports.
TEST(HttpFramerTest, MutatedStreamsNeverReleaseAnythingButTheInputPrefix) {
  const int seeds = isle::testing::seed_count(300);
  for (int i = 0; i < seeds; i++) {
    const uint64_t seed = isle::testing::seed_base() + static_cast<uint64_t>(i);
    Random rnd(seed);
    std::string in = kStream + kStream;
    for (uint64_t m = rnd.uniform(4); m > 0; m--) {
      const size_t at = rnd.uniform(in.size());
      switch (rnd.uniform(3)) {
        case 0: in[at] = static_cast<char>(rnd.uniform(256)); break;
        case 1: in.insert(at, 1, static_cast<char>(rnd.uniform(256))); break;
        default: in.erase(at, 1 + rnd.uniform(8)); break;
      }
    }
    HttpFramer f(rnd.chance(0.5) ? HttpFramer::Kind::kRequest : HttpFramer::Kind::kResponse,
                 64 + rnd.uniform(512));
    Out out = run(f, in, 1 + rnd.uniform(40), rnd.chance(0.5));
    ASSERT_EQ(in.compare(0, out.forwarded.size(), out.forwarded), 0) << "seed " << seed;
  }
}

}  // namespace
}  // namespace isle::proxy
