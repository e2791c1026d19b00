// HttpClient over TLS against a real TLS server: `openssl s_server -www`
// (from the openssl package scripts/install-deps.sh installs) with
// certificates made for the test. What must hold: a server whose
// certificate chains to the configured CA file and names the host is
// accepted; an unknown CA or a certificate for another name is refused at
// the handshake (Transient, nothing sent) with the reason in the message;
// verify_tls=false skips the checks.
#include <signal.h>
#include <sys/socket.h>
#include <netinet/in.h>
#include <arpa/inet.h>
#include <unistd.h>

#include <gtest/gtest.h>

#include <chrono>
#include <thread>

#include "cloud/http_client.h"
#include "testutil/testutil.h"

namespace isle {
namespace {

constexpr const char* kOpenssl = "/usr/bin/openssl";

uint16_t free_port() {
  int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  ::bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof a);
  socklen_t len = sizeof a;
  ::getsockname(fd, reinterpret_cast<sockaddr*>(&a), &len);
  ::close(fd);
  return ntohs(a.sin_port);
}

bool accepts(uint16_t port) {
  int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_port = htons(port);
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  bool ok = ::connect(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) == 0;
  ::close(fd);
  return ok;
}

class HttpClientTlsTest : public ::testing::Test {
 protected:
  void SetUp() override {
    if (::access(kOpenssl, X_OK) != 0) GTEST_SKIP() << kOpenssl << " is not installed";
    // A CA, and a server certificate it signs for "localhost" only.
    const std::string d = dir_.path();
    ASSERT_EQ(testing::run_program(kOpenssl, {"req", "-x509", "-newkey", "ec", "-pkeyopt",
                                              "ec_paramgen_curve:prime256v1", "-nodes",
                                              "-keyout", d + "/ca.key", "-out", d + "/ca.pem",
                                              "-days", "2", "-subj", "/CN=isle test CA"}),
              0);
    ASSERT_EQ(testing::run_program(kOpenssl, {"req", "-newkey", "ec", "-pkeyopt",
                                              "ec_paramgen_curve:prime256v1", "-nodes", "-keyout",
                                              d + "/srv.key", "-out", d + "/srv.csr", "-subj",
                                              "/CN=localhost"}),
              0);
    {
      FILE* f = std::fopen((d + "/ext.cnf").c_str(), "w");
      ASSERT_NE(f, nullptr);
      std::fputs("subjectAltName=DNS:localhost\n", f);
      std::fclose(f);
    }
    ASSERT_EQ(testing::run_program(kOpenssl, {"x509", "-req", "-in", d + "/srv.csr", "-CA",
                                              d + "/ca.pem", "-CAkey", d + "/ca.key",
                                              "-CAcreateserial", "-out", d + "/srv.pem", "-days",
                                              "2", "-extfile", d + "/ext.cnf"}),
              0);
    port_ = free_port();
    pid_ = testing::spawn_program(kOpenssl, {"s_server", "-quiet", "-accept",
                                             std::to_string(port_), "-cert", d + "/srv.pem",
                                             "-key", d + "/srv.key", "-www"});
    ASSERT_GT(pid_, 0);
    for (int i = 0; i < 200 && !accepts(port_); i++) {
      std::this_thread::sleep_for(std::chrono::milliseconds(25));
    }
    ASSERT_TRUE(accepts(port_)) << "openssl s_server did not start";
  }
  void TearDown() override {
    if (pid_ > 0) {
      ::kill(pid_, SIGTERM);
      testing::wait_program(pid_);
    }
  }

  Result<HttpClientResponse> get(const std::string& host, HttpClientOptions o) {
    auto c = HttpClient::create({true, host, port_}, o);
    if (!c.ok()) return c.status();
    HttpClientRequest r;
    r.method = "GET";
    r.target = "/";
    return (*c)->send(r);
  }

  testing::TempDir dir_;
  uint16_t port_ = 0;
  int pid_ = -1;
};

TEST_F(HttpClientTlsTest, TrustedCertificateForTheHostIsAccepted) {
  HttpClientOptions o;
  o.ca_file = dir_.path() + "/ca.pem";
  auto r = get("localhost", o);
  ASSERT_TRUE(r.ok()) << r.status().to_string();
  EXPECT_EQ(r->status, 200);
  EXPECT_NE(r->body.find("s_server"), std::string::npos) << r->body.substr(0, 200);
}

TEST_F(HttpClientTlsTest, UnknownCaIsRefusedAtTheHandshake) {
  auto r = get("localhost", HttpClientOptions{});  // the system CAs do not know ours
  ASSERT_EQ(r.status().code(), Code::kTransient) << r.status().to_string();
  EXPECT_NE(r.status().message().find("TLS handshake"), std::string::npos)
      << r.status().message();
  EXPECT_NE(r.status().message().find("certificate"), std::string::npos)
      << r.status().message();
}

TEST_F(HttpClientTlsTest, CertificateForAnotherNameIsRefused) {
  HttpClientOptions o;
  o.ca_file = dir_.path() + "/ca.pem";
  auto r = get("127.0.0.1", o);  // the certificate names only "localhost"
  ASSERT_EQ(r.status().code(), Code::kTransient) << r.status().to_string();
  EXPECT_NE(r.status().message().find("TLS handshake"), std::string::npos)
      << r.status().message();
}

TEST_F(HttpClientTlsTest, VerificationCanBeTurnedOffForTests) {
  HttpClientOptions o;
  o.verify_tls = false;
  auto r = get("127.0.0.1", o);
  ASSERT_TRUE(r.ok()) << r.status().to_string();
  EXPECT_EQ(r->status, 200);
}

}  // namespace
}  // namespace isle
