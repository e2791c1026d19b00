// The daemons' flags and configuration as a user meets them: unknown keys
// and bad values exit 78 naming the path, --set wins over the YAML file,
// --check-config / --version / --help exit 0, the shipped
// conf/<role>.yaml files pass --check-config, and an unusable
// verification key file stops readerd and tailerd (78).
#include <filesystem>
#include <fstream>

#include "daemons/daemon_test.h"
#include "util/signing.h"

#ifndef ISLE_SOURCE_DIR
#define ISLE_SOURCE_DIR ""
#endif

namespace isle::daemontest {
namespace {

namespace fs = std::filesystem;
using isle::testing::ProgramRun;
using isle::testing::run_capture;
using isle::testing::settings_to_yaml;

const std::vector<std::string> kDaemons = {"writerd", "readerd", "tailerd", "compactord", "retentiond"};

class ConfigTest : public DaemonTest {
 protected:
  // Writes a config for `name` (test defaults + extra) and returns its path.
  std::string write_config(const std::string& name, const Settings& extra, const std::string& tag) {
    Settings s = defaults(name);
    s.insert(s.end(), extra.begin(), extra.end());
    s.emplace_back("server.listen", "127.0.0.1:0");
    std::string path = dir() + "/" + name + "-" + tag + ".yaml";
    std::ofstream f(path);
    f << settings_to_yaml(s);
    return path;
  }
  ProgramRun run(const std::string& name, const std::vector<std::string>& args) {
    return run_capture(isle::testing::built_program(name), args, dir(), 30s);
  }
};

TEST_F(ConfigTest, UnknownKeysExit78NamingThePath) {
  const std::map<std::string, std::string> typo = {{"writerd", "writer.memtable_sizee"},
                                                   {"readerd", "reader.refresh_intervall"},
                                                   {"tailerd", "tailer.heartbeat_intervall"},
                                                   {"compactord", "compactor.l0_thresholdd"},
                                                   {"retentiond", "retention.periodd"}};
  for (const std::string& name : kDaemons) {
    SCOPED_TRACE(name);
    const std::string& key = typo.at(name);
    // In the YAML file.
    std::string cfg = write_config(name, {{key, "1"}}, "typo");
    ProgramRun r = run(name, {"--config", cfg});
    EXPECT_EQ(r.exit_code, 78) << r.output;
    EXPECT_NE(r.output.find(key + ": unknown key"), std::string::npos) << r.output;
    // In a --set override.
    std::string good = write_config(name, {}, "good");
    r = run(name, {"--config", good, "--set", key + "=1"});
    EXPECT_EQ(r.exit_code, 78) << r.output;
    EXPECT_NE(r.output.find(key), std::string::npos) << r.output;
    // A whole unknown section.
    r = run(name, {"--config", good, "--set", "bogus.key=1"});
    EXPECT_EQ(r.exit_code, 78) << r.output;
    EXPECT_NE(r.output.find("bogus.key"), std::string::npos) << r.output;
  }
  // Another role's section is unknown to a daemon.
  ProgramRun r = run("readerd", {"--config", write_config("readerd", {{"writer.flush_interval", "1s"}}, "other")});
  EXPECT_EQ(r.exit_code, 78) << r.output;
  // The path of the unknown node: the whole section (or the key in it).
  EXPECT_TRUE(r.output.find("writer: unknown key") != std::string::npos ||
              r.output.find("writer.flush_interval: unknown key") != std::string::npos)
      << r.output;
}

TEST_F(ConfigTest, BadValuesAndFlagsExit78) {
  std::string good = write_config("writerd", {}, "good");
  struct Case {
    std::vector<std::string> args;
    std::string mention;
  };
  std::vector<Case> cases = {
      {{"--config", good, "--set", "writer.flush_interval=banana"}, "writer.flush_interval"},
      {{"--config", good, "--set", "writer.flush_interval=100"}, "writer.flush_interval"},  // unit required
      {{"--config", good, "--set", "writer.memtable_size=lots"}, "writer.memtable_size"},
      {{"--config", good, "--set", "log.format=xml"}, "log.format"},
      {{"--config", good, "--set", "server.max_connections=many"}, "server.max_connections"},
      {{"--config", good, "--set", "no-equals-sign"}, ""},
      {{"--config", dir() + "/does-not-exist.yaml"}, "does-not-exist.yaml"},
      {{"--frobnicate"}, "frobnicate"},
  };
  for (const Case& c : cases) {
    std::string joined;
    for (const auto& a : c.args) joined += a + " ";
    SCOPED_TRACE(joined);
    ProgramRun r = run("writerd", c.args);
    EXPECT_EQ(r.exit_code, 78) << r.output;
    if (!c.mention.empty()) {
      EXPECT_NE(r.output.find(c.mention), std::string::npos) << r.output;
    }
  }
  // store.url is required.
  std::string no_url = dir() + "/no-url.yaml";
  {
    std::ofstream f(no_url);
    f << "server:\n  listen: 127.0.0.1:0\n";
  }
  ProgramRun r = run("writerd", {"--config", no_url});
  EXPECT_EQ(r.exit_code, 78) << r.output;
  EXPECT_NE(r.output.find("store.url"), std::string::npos) << r.output;
  // Malformed YAML.
  std::string broken = dir() + "/broken.yaml";
  {
    std::ofstream f(broken);
    f << "store:\n  url: [unclosed\n";
  }
  r = run("writerd", {"--config", broken});
  EXPECT_EQ(r.exit_code, 78) << r.output;
}

TEST_F(ConfigTest, CheckConfigVersionAndHelpExitZero) {
  for (const std::string& name : kDaemons) {
    SCOPED_TRACE(name);
    std::string cfg = write_config(name, {}, "check");
    ProgramRun r = run(name, {"--config", cfg, "--check-config"});
    EXPECT_EQ(r.exit_code, 0) << r.output;
    r = run(name, {"--version"});
    EXPECT_EQ(r.exit_code, 0) << r.output;
    EXPECT_FALSE(r.output.empty());
    r = run(name, {"--help"});
    EXPECT_EQ(r.exit_code, 0) << r.output;
    EXPECT_NE(r.output.find("--config"), std::string::npos) << r.output;
    EXPECT_NE(r.output.find("--set"), std::string::npos) << r.output;
  }
  // --check-config does not start serving (nothing written to the bucket).
  EXPECT_TRUE(fs::is_empty(dir() + "/bucket"));
}

TEST_F(ConfigTest, SetWinsOverTheYamlFile) {
  std::string from_yaml = dir() + "/from-yaml.addr";
  std::string from_set = dir() + "/from-set.addr";
  DaemonProcess& d = add("readerd", {{"server.address_file", from_yaml}},
                         {{"server.address_file", from_set}, {"reader.refresh_interval", "300ms"}});
  ASSERT_TRUE(d.start());
  EXPECT_TRUE(fs::exists(from_set));
  EXPECT_FALSE(fs::exists(from_yaml)) << "the YAML's server.address_file was used despite --set";
}

TEST_F(ConfigTest, ShippedConfigsPassCheckConfig) {
  fs::path conf = fs::path(ISLE_SOURCE_DIR) / "conf";
  if (std::string(ISLE_SOURCE_DIR).empty() || !fs::is_directory(conf)) {
    GTEST_SKIP() << "no conf/ directory in the source tree yet (" << conf << ")";
  }
  for (const std::string& name : kDaemons) {
    SCOPED_TRACE(name);
    fs::path file = conf / (name + ".yaml");
    ASSERT_TRUE(fs::exists(file)) << file << " is missing";
    ProgramRun r = run(name, {"--config", file.string(), "--check-config"});
    EXPECT_EQ(r.exit_code, 0) << file << ":\n" << r.output;
  }
}

// Integrity fails closed: a verification key that was configured but
// cannot be used stops readerd and tailerd with 78 and a log line naming
// the key, instead of serving with verification silently off.
TEST_F(ConfigTest, UnusableVerifyPublicKeyFileExits78NamingTheKey) {
  auto signer = Ed25519Signer::generate();
  ASSERT_TRUE(signer.ok()) << signer.status().to_string();
  auto write_file = [&](const std::string& name, const std::string& text) {
    std::string path = dir() + "/" + name;
    std::ofstream(path) << text;
    return path;
  };
  const std::string missing = dir() + "/no-such-key.pem";
  const std::vector<std::pair<std::string, std::string>> files = {
      {"missing", missing},
      {"empty", write_file("empty.pem", "")},
      {"garbage", write_file("garbage.pem", "this is not a key\n")},
      {"private key", write_file("private.pem", signer->private_key_pem())},
      {"a directory", dir()},
  };
  for (const std::string& name : {std::string("readerd"), std::string("tailerd")}) {
    const std::string key =
        std::string(name == "readerd" ? "reader" : "tailer") + ".verify_public_key_file";
    for (const auto& [what, path] : files) {
      SCOPED_TRACE(name + " with a " + what + " key file");
      std::string cfg = write_config(name, {{key, path}}, "badkey");
      ProgramRun r = run_capture(isle::testing::built_program(name), {"--config", cfg}, dir(), 15s);
      EXPECT_EQ(r.exit_code, 78) << r.output;
      EXPECT_NE(r.output.find(key), std::string::npos) << r.output;
      EXPECT_NE(r.output.find(path), std::string::npos) << r.output;
    }
  }
  // The same key, readable, starts the reader.
  std::string good = write_file("public.pem", signer->public_key_pem());
  DaemonProcess& d = add("readerd", {}, {{"reader.verify_public_key_file", good}});
  EXPECT_TRUE(d.start());
}

// The same for compactord's two key files (issue 14): a named key file that
// cannot be used stops it with 78 naming the key and the path; a signing
// key without verify keys is refused; usable keys (the verify file holding
// two public keys) start it.
TEST_F(ConfigTest, CompactordUnusableKeyFilesExit78NamingTheKey) {
  auto a = Ed25519Signer::generate();
  auto b = Ed25519Signer::generate();
  ASSERT_TRUE(a.ok() && b.ok());
  auto write_file = [&](const std::string& name, const std::string& text) {
    std::string path = dir() + "/" + name;
    std::ofstream(path) << text;
    return path;
  };
  const std::string ring = write_file("ring.pem", a->public_key_pem() + b->public_key_pem());
  const std::string priv = write_file("b.key", b->private_key_pem());
  const std::string missing = dir() + "/no-such-key.pem";
  const std::string garbage = write_file("garbage.pem", "this is not a key\n");
  struct Case {
    std::string what, key, path;
    Settings extra;
  };
  const std::vector<Case> cases = {
      {"missing verify file", "compactor.verify_public_key_file", missing, {}},
      {"garbage verify file", "compactor.verify_public_key_file", garbage, {}},
      {"private key as verify file", "compactor.verify_public_key_file", priv, {}},
      {"missing signing file", "compactor.signing_key_file", missing,
       {{"compactor.verify_public_key_file", ring}}},
      {"public key as signing file", "compactor.signing_key_file", ring,
       {{"compactor.verify_public_key_file", ring}}},
  };
  for (const auto& c : cases) {
    SCOPED_TRACE(c.what);
    Settings values = c.extra;
    values.emplace_back(c.key, c.path);
    std::string cfg = write_config("compactord", values, "badkey");
    ProgramRun r = run_capture(isle::testing::built_program("compactord"), {"--config", cfg}, dir(), 15s);
    EXPECT_EQ(r.exit_code, 78) << r.output;
    EXPECT_NE(r.output.find(c.key), std::string::npos) << r.output;
    EXPECT_NE(r.output.find(c.path), std::string::npos) << r.output;
  }
  {
    SCOPED_TRACE("signing without verifying");
    std::string cfg = write_config("compactord", {{"compactor.signing_key_file", priv}}, "badkey");
    ProgramRun r = run_capture(isle::testing::built_program("compactord"), {"--config", cfg}, dir(), 15s);
    EXPECT_EQ(r.exit_code, 78) << r.output;
    EXPECT_NE(r.output.find("compactor.verify_public_key_file"), std::string::npos) << r.output;
  }
  DaemonProcess& d = add("compactord", {},
                         {{"compactor.verify_public_key_file", ring}, {"compactor.signing_key_file", priv}});
  EXPECT_TRUE(d.start());
}

}  // namespace
}  // namespace isle::daemontest
