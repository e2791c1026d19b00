// Shared fixture and helpers of the daemon integration tests: a scratch
// bucket, daemons started on it with fast test settings, their clean
// shutdown checked at the end of every test (logs printed on failure), and
// the API's spellings (percent-encoded keys in paths, key/key_b64 in JSON).
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <random>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "testutil/daemon_process.h"
#include "testutil/http_client.h"
#include "testutil/testutil.h"

namespace isle::daemontest {

using isle::testing::Clock;
using isle::testing::DaemonProcess;
using isle::testing::Headers;
using isle::testing::HttpClient;
using isle::testing::HttpResult;
using isle::testing::HttpStream;
using isle::testing::Settings;
using json = nlohmann::json;
using namespace std::chrono_literals;

using Model = std::map<std::string, std::string>;
using KVs = std::vector<std::pair<std::string, std::string>>;

// ---- encodings (written here, independent of the server's code) ----------

std::string pct(std::string_view bytes);  // every byte outside [A-Za-z0-9-._~] as %XX
std::string b64_encode(std::string_view bytes);
std::optional<std::string> b64_decode(std::string_view text);
bool is_utf8(std::string_view s);
// Printable form of a binary key for messages.
std::string show(std::string_view bytes);

// Sets j[name] (valid UTF-8, unless force_b64) or j[name + "_b64"].
void set_bytes(json& j, const std::string& name, std::string_view bytes, bool force_b64 = false);
// Reads j[name] or j[name + "_b64"]; nullopt when neither is there.
std::optional<std::string> get_bytes(const json& j, const std::string& name);

// "/v1/kv/<pct(key)>" + optional query.
std::string kv_path(std::string_view key, std::string_view query = {});

// Parses an NDJSON body (blank lines skipped); records a test failure and
// returns what parsed on a bad line.
std::vector<json> parse_ndjson(const std::string& body);
// Parses a JSON body; a failure (and a null) when it does not parse.
json parse_json(const std::string& body);

// The error body contract: status as given (0: any 4xx), a JSON body
// {"error":{"code":string,"message":string}}.
::testing::AssertionResult IsJsonError(const HttpResult& r, int status);

// {"seq":N} from a 200 write answer; 0 (and a failure) otherwise.
uint64_t seq_of(const HttpResult& r);

// Polls `f` every `step` until it returns true or `timeout` passes.
bool eventually(const std::function<bool()>& f, std::chrono::milliseconds timeout,
                std::chrono::milliseconds step = 50ms);

// ---- reading through readerd ------------------------------------------------

// GET /v1/scan?<query>; the pairs in order. `ok` false (and a failure
// recorded) when the scan did not answer 200 with valid NDJSON.
KVs scan(HttpClient& c, const std::string& query, bool* ok = nullptr);
// POST /v1/mget; one optional value per key, in order.
std::vector<std::optional<std::string>> mget(HttpClient& c, const std::vector<std::string>& keys,
                                             bool* ok = nullptr);
// What a scan over the model answers (start inclusive, end exclusive,
// prefix, limit 0 = all).
KVs model_scan(const Model& m, const std::optional<std::string>& start,
               const std::optional<std::string>& end, const std::string& prefix, size_t limit);
// The scan query string for those bounds.
std::string scan_query(const std::optional<std::string>& start, const std::optional<std::string>& end,
                       const std::string& prefix, size_t limit);
// A readable diff of two KV lists (first differences).
std::string diff(const KVs& want, const KVs& got);
KVs as_kvs(const Model& m);
// GET /v1/manifest's "l0" size; -1 when absent.
int l0_count(HttpClient& reader);
// One value from GET /metrics (the sum over its label sets); -1 when absent.
double metric_value(HttpClient& c, const std::string& name);
// A number from GET /v1/status (0 when absent).
uint64_t status_number(HttpClient& c, const std::string& field);

// ---- the fixture ------------------------------------------------------------

class DaemonTest : public ::testing::Test {
 protected:
  DaemonTest();
  void TearDown() override;

  const std::string& dir() const { return dir_.path(); }
  const std::string& bucket_url() const { return bucket_url_; }

  // Creates (does not start) a daemon on the test bucket with the test
  // defaults for its role, then `yaml` (replacing defaults of the same
  // path); `sets` become --set flags.
  DaemonProcess& add(const std::string& name, const Settings& yaml = {}, const Settings& sets = {});
  // Test defaults for a role ("writerd", ...), store.url included.
  Settings defaults(const std::string& name) const;
  // At TearDown the daemon is not expected to exit 0 on SIGTERM (it was
  // killed or fenced on purpose).
  void expect_dead(DaemonProcess& d);

 private:
  isle::testing::TempDir dir_;
  std::string bucket_url_;
  std::vector<std::unique_ptr<DaemonProcess>> daemons_;
  std::vector<DaemonProcess*> dead_;
};

}  // namespace isle::daemontest
