// isle_store_race_worker: one contender in a multi-process object-store
// race, spawned by the conformance suite (libisle/src/store/
// conformance_test.cc) to check that create-only and if-match puts are
// atomic across processes, not only across threads.
//
//   isle_store_race_worker URL cas-increment KEY M [--wait-for PATH]
//       M times: read the decimal counter at KEY (missing = 0) and write
//       counter+1 with if-match (create-only when missing), retrying on
//       PreconditionFailed. Exit 0 when all M increments landed.
//   isle_store_race_worker URL create-once KEY ID [--wait-for PATH]
//       One create-only put of ID at KEY. Exit 0 if it won, 3 if the key
//       already existed (PreconditionFailed).
//
// --wait-for PATH makes the worker wait until PATH exists before racing,
// so a test can start all contenders at nearly the same moment.
// Other exit codes: 1 store error, 2 bad usage, 4 timed out waiting.
#include <sys/stat.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <string>
#include <vector>

#include "isle/object_store.h"

namespace {

constexpr int kExitWon = 0;
constexpr int kExitError = 1;
constexpr int kExitUsage = 2;
constexpr int kExitLost = 3;
constexpr int kExitTimeout = 4;

int usage() {
  std::fprintf(stderr,
               "usage: isle_store_race_worker URL cas-increment KEY M [--wait-for PATH]\n"
               "       isle_store_race_worker URL create-once KEY ID [--wait-for PATH]\n");
  return kExitUsage;
}

int fail(const char* what, const isle::Status& s) {
  std::fprintf(stderr, "isle_store_race_worker: %s: %s\n", what, s.to_string().c_str());
  return kExitError;
}

// Polls for `path` (every 200 us, up to 30 s).
bool wait_for(const std::string& path) {
  struct stat st;
  for (int i = 0; i < 150000; i++) {
    if (::stat(path.c_str(), &st) == 0) return true;
    ::usleep(200);
  }
  return false;
}

bool parse_u64(const std::string& s, uint64_t* v) {
  if (s.empty() || s.size() > 19) return false;
  uint64_t x = 0;
  for (char c : s) {
    if (c < '0' || c > '9') return false;
    x = x * 10 + static_cast<uint64_t>(c - '0');
  }
  *v = x;
  return true;
}

int cas_increment(isle::ObjectStore& store, const std::string& key, uint64_t m) {
  // Each value names its writer after the count ("17 pid.attempt") so a
  // store resolving an ambiguous answer can tell its bytes from a rival's.
  uint64_t attempt = 0;
  for (uint64_t done = 0; done < m;) {
    const std::string tag = " " + std::to_string(getpid()) + "." + std::to_string(attempt++);
    auto cur = store.get(key);
    isle::Result<isle::ObjectMeta> put = isle::Status::Aborted("unset");
    if (cur.status().is_not_found()) {
      put = store.put(key, "1" + tag, isle::PutOptions::create_only());
    } else if (!cur.ok()) {
      return fail("get", cur.status());
    } else {
      uint64_t n = 0;
      if (!parse_u64(cur->data.substr(0, cur->data.find(' ')), &n)) {
        std::fprintf(stderr, "isle_store_race_worker: counter is not a number: '%s'\n",
                     cur->data.c_str());
        return kExitError;
      }
      put = store.put(key, std::to_string(n + 1) + tag,
                      isle::PutOptions::if_match_etag(cur->meta.etag));
    }
    if (put.ok()) {
      done++;
    } else if (!put.status().is_precondition_failed()) {
      return fail("put", put.status());
    }  // else: someone else moved the counter first; read again
  }
  return kExitWon;
}

int create_once(isle::ObjectStore& store, const std::string& key, const std::string& id) {
  auto put = store.put(key, id, isle::PutOptions::create_only());
  if (put.ok()) return kExitWon;
  if (put.status().is_precondition_failed()) return kExitLost;
  return fail("put", put.status());
}

}  // namespace

int main(int argc, char** argv) {
  std::vector<std::string> args(argv + 1, argv + argc);
  std::string wait_path;
  if (args.size() == 6 && args[4] == "--wait-for") {
    wait_path = args[5];
    args.resize(4);
  }
  if (args.size() != 4) return usage();
  const std::string& url = args[0];
  const std::string& mode = args[1];
  const std::string& key = args[2];

  auto store = isle::open_object_store(url);
  if (!store.ok()) return fail("open", store.status());
  if (!wait_path.empty() && !wait_for(wait_path)) return kExitTimeout;

  if (mode == "cas-increment") {
    uint64_t m = 0;
    if (!parse_u64(args[3], &m)) return usage();
    return cas_increment(**store, key, m);
  }
  if (mode == "create-once") return create_once(**store, key, args[3]);
  return usage();
}
