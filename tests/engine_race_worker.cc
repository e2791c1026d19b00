// isle_engine_race_worker: one of several writer PROCESSES racing for the
// same database, spawned by libisle/src/lsm/engine_process_test.cc.
//
//   isle_engine_race_worker URL ID ROUNDS ACKS_FILE [FLUSHES_IN_FLIGHT]
//
// Each round it opens a Writer (claiming the writer fence, which fences
// whichever process held it) with max_flushes_in_flight = FLUSHES_IN_FLIGHT
// (default: the library's), writes the keys "w<ID>-r<round>-<i>" from
// three threads, each waiting until its key is durable (so several
// flushes are in flight). Only when await_durable returns OK does it append
// the key to ACKS_FILE (fsynced): those are the writes the test then
// requires to be visible. Fenced and other errors are expected in a race
// and just end the round. Exit 0 when all rounds ran, 1 on a usage or
// file error.
#include <fcntl.h>
#include <unistd.h>

#include <cstdio>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "isle/db.h"

int main(int argc, char** argv) {
  if (argc != 5 && argc != 6) {
    std::fprintf(stderr,
                 "usage: isle_engine_race_worker URL ID ROUNDS ACKS_FILE [FLUSHES_IN_FLIGHT]\n");
    return 1;
  }
  const std::string url = argv[1], id = argv[2];
  const int rounds = std::atoi(argv[3]);
  const int acks = ::open(argv[4], O_WRONLY | O_CREAT | O_APPEND, 0644);
  if (acks < 0) return 1;
  auto store = isle::open_object_store(url);
  if (!store.ok()) return 1;
  isle::DBOptions dbo;
  dbo.prefix = "race";
  auto db = isle::DB::open(*store, dbo);
  if (!db.ok()) return 1;
  isle::WriterOptions wo;
  wo.owner = "worker-" + id;
  wo.retry_backoff = std::chrono::milliseconds(2);
  wo.min_flush_spacing = std::chrono::milliseconds(0);
  if (argc == 6) wo.max_flushes_in_flight = std::atoi(argv[5]);
  std::mutex ack_mu;
  bool ack_failed = false;
  for (int r = 0; r < rounds; r++) {
    auto w = db->open_writer(wo);
    if (!w.ok()) continue;
    std::vector<std::thread> threads;
    for (int i = 0; i < 3; i++) {
      threads.emplace_back([&, i] {
        const std::string key = "w" + id + "-r" + std::to_string(r) + "-" + std::to_string(i);
        auto seq = (*w)->put(key, id);
        if (!seq.ok() || !(*w)->await_durable(*seq).ok()) return;
        const std::string line = key + "\n";
        std::lock_guard lk(ack_mu);
        if (::write(acks, line.data(), line.size()) != static_cast<ssize_t>(line.size())) {
          ack_failed = true;
        }
        ::fsync(acks);
      });
    }
    for (auto& t : threads) t.join();
    if (ack_failed) return 1;
    (*w)->simulate_crash();  // leave without a clean close: the next claimer fences us anyway
    // Uneven pauses, so that some rounds run alone and some overlap.
    ::usleep(static_cast<useconds_t>(((std::stoi(id) * 7 + r * 13) % 25) * 1000));
  }
  ::close(acks);
  return 0;
}
