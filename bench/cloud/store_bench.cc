// isle_store_bench: whole-object GET and PUT latency and throughput of one
// object store, opened by URL (isle::open_object_store, so an s3:// store
// runs with its retry decorator, as IsleDB uses it). Plain main rather than
// Google Benchmark: bench/cloud/curl_vs_isle.sh runs it next to curl on the
// same server and objects and needs one summary line per phase.
//
//   isle_store_bench --url URL --prepare --size BYTES --objects K [--prefix P]
//       PUTs K objects P/get-BYTES-0 .. P/get-BYTES-(K-1) for the GET phases.
//   isle_store_bench --url URL --cleanup --size BYTES --objects K [--prefix P]
//       deletes them and the P/put-BYTES-* objects.
//   isle_store_bench --dump-payload FILE --size BYTES
//       writes the payload every PUT sends (for curl to send the same bytes).
//   isle_store_bench --url URL --op get|put --size BYTES --requests N
//                    [--threads T] [--objects K] [--prefix P] [--samples FILE]
//       N requests over T threads (1 = sequential); request i GETs
//       P/get-BYTES-(i%K) or PUTs P/put-BYTES-(i%K). Prints one line:
//       isle OP SIZE T n=N errors=E p50_ms=.. p99_ms=.. span_s=.. req_s=.. MB_s=..
//       where span is from the start of the first request to the end of the
//       last (the store is opened before, with a cold connection pool), and
//       MB = 10^6 bytes of object data.
//
// The store URL should carry check=false so that opening it does not warm a
// connection (curl starts cold too); the script adds it.
#include <algorithm>
#include <atomic>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <mutex>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include "isle/object_store.h"

namespace {

using Clock = std::chrono::steady_clock;

[[noreturn]] void usage(const char* why) {
  std::fprintf(stderr,
               "isle_store_bench: %s\n"
               "usage: isle_store_bench --url URL (--prepare | --op get|put) --size BYTES\n"
               "       [--requests N] [--threads T] [--objects K] [--prefix P] [--samples FILE]\n",
               why);
  std::exit(2);
}

double percentile(std::vector<double> v, double p) {  // nearest rank
  if (v.empty()) return 0;
  std::sort(v.begin(), v.end());
  size_t rank = static_cast<size_t>(std::ceil(p / 100.0 * static_cast<double>(v.size())));
  return v[std::clamp<size_t>(rank, 1, v.size()) - 1];
}

std::string payload(size_t size) {
  std::string s(size, '\0');
  std::mt19937_64 rng(42);
  for (size_t i = 0; i + 8 <= size; i += 8) {
    uint64_t x = rng();
    std::memcpy(s.data() + i, &x, 8);
  }
  return s;
}

}  // namespace

int main(int argc, char** argv) {
  std::string url, op, prefix = "bench", samples_file;
  size_t size = 0, requests = 100, objects = 16;
  int threads = 1;
  bool prepare = false, cleanup = false;
  std::string dump_file;
  for (int i = 1; i < argc; i++) {
    std::string a = argv[i];
    auto value = [&]() -> std::string {
      if (i + 1 >= argc) usage(("missing value for " + a).c_str());
      return argv[++i];
    };
    if (a == "--url") url = value();
    else if (a == "--op") op = value();
    else if (a == "--prefix") prefix = value();
    else if (a == "--samples") samples_file = value();
    else if (a == "--size") size = std::strtoull(value().c_str(), nullptr, 10);
    else if (a == "--requests") requests = std::strtoull(value().c_str(), nullptr, 10);
    else if (a == "--objects") objects = std::strtoull(value().c_str(), nullptr, 10);
    else if (a == "--threads") threads = std::atoi(value().c_str());
    else if (a == "--prepare") prepare = true;
    else if (a == "--cleanup") cleanup = true;
    else if (a == "--dump-payload") dump_file = value();
    else usage(("unknown argument " + a).c_str());
  }
  if (size == 0 || objects == 0 || requests == 0 || threads < 1) usage("bad numbers");
  const std::string body = payload(size);
  if (!dump_file.empty()) {
    std::ofstream out(dump_file, std::ios::binary);
    out.write(body.data(), static_cast<std::streamsize>(body.size()));
    return out.good() ? 0 : 1;
  }
  if (url.empty()) usage("--url is required");
  if (!prepare && !cleanup && op != "get" && op != "put") usage("--op must be get or put");

  auto opened = isle::open_object_store(url);
  if (!opened.ok()) {
    std::fprintf(stderr, "open %s: %s\n", url.c_str(), opened.status().to_string().c_str());
    return 1;
  }
  isle::ObjectStorePtr store = *opened;
  auto key = [&](const char* kind, size_t i) {
    return prefix + "/" + kind + "-" + std::to_string(size) + "-" + std::to_string(i % objects);
  };

  if (prepare) {
    for (size_t i = 0; i < objects; i++) {
      auto r = store->put(key("get", i), body);
      if (!r.ok()) {
        std::fprintf(stderr, "prepare: %s\n", r.status().to_string().c_str());
        return 1;
      }
    }
    return 0;
  }
  if (cleanup) {
    std::vector<std::string> keys;
    for (size_t i = 0; i < objects; i++) {
      keys.push_back(key("get", i));
      keys.push_back(key("put", i));
    }
    auto r = store->remove_batch(keys);
    return r.ok() ? 0 : 1;
  }

  const bool get = op == "get";
  std::vector<double> lat_ms(requests);
  std::vector<char> failed(requests, 0);
  std::atomic<size_t> next{0};
  std::mutex err_mu;
  std::string first_error;
  std::vector<Clock::time_point> thread_start(threads), thread_end(threads);
  auto worker = [&](int t) {
    thread_start[t] = Clock::now();
    for (size_t i = next++; i < requests; i = next++) {
      const auto t0 = Clock::now();
      isle::Status s;
      if (get) {
        auto r = store->get(key("get", i));
        if (r.ok() && r->data.size() != size) s = isle::Status::Corruption("short GET");
        else if (!r.ok()) s = r.status();
      } else {
        auto r = store->put(key("put", i), body);
        if (!r.ok()) s = r.status();
      }
      lat_ms[i] = std::chrono::duration<double, std::milli>(Clock::now() - t0).count();
      if (!s.ok()) {
        failed[i] = 1;
        std::lock_guard lock(err_mu);
        if (first_error.empty()) first_error = s.to_string();
      }
    }
    thread_end[t] = Clock::now();
  };
  const auto start = Clock::now();
  std::vector<std::thread> pool;
  for (int t = 1; t < threads; t++) pool.emplace_back(worker, t);
  worker(0);
  for (auto& th : pool) th.join();
  const auto end = *std::max_element(thread_end.begin(), thread_end.end());
  const double span_s = std::chrono::duration<double>(end - start).count();

  size_t errors = 0;
  for (char f : failed) errors += f;
  if (!first_error.empty()) std::fprintf(stderr, "first error: %s\n", first_error.c_str());
  if (!samples_file.empty()) {
    std::ofstream out(samples_file);
    for (double v : lat_ms) out << v << "\n";
  }
  const double req_s = static_cast<double>(requests) / span_s;
  std::printf("isle %s %zu %d n=%zu errors=%zu p50_ms=%.3f p99_ms=%.3f span_s=%.4f req_s=%.1f MB_s=%.2f\n",
              op.c_str(), size, threads, requests, errors, percentile(lat_ms, 50),
              percentile(lat_ms, 99), span_s, req_s, req_s * static_cast<double>(size) / 1e6);
  return errors == 0 ? 0 : 1;
}
