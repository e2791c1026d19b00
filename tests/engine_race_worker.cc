// isle_engine_race_worker: one of several writer PROCESSES racing for the
// same database, spawned by libisle/src/lsm/engine_process_test.cc.
//
//   isle_engine_race_worker URL ID ROUNDS ACKS_FILE
//
// Each round it opens a Writer (claiming the writer fence, which fences
// whichever process held it), writes the key "w<ID>-r<round>" and waits
// until it is durable. Only when await_durable returns OK does it append
// the key to ACKS_FILE (fsynced): those are the writes the test then
// requires to be visible. Fenced and other errors are expected in a race
// and just end the round. Exit 0 when all rounds ran, 1 on a usage or
// file error.
#include <fcntl.h>
#include <unistd.h>

#include <cstdio>
#include <string>

#include "isle/db.h"

int main(int argc, char** argv) {
  if (argc != 5) {
    std::fprintf(stderr, "usage: isle_engine_race_worker URL ID ROUNDS ACKS_FILE\n");
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
  for (int r = 0; r < rounds; r++) {
    auto w = db->open_writer(wo);
    if (!w.ok()) continue;
    const std::string key = "w" + id + "-r" + std::to_string(r);
    auto seq = (*w)->put(key, id);
    if (!seq.ok()) continue;
    if ((*w)->await_durable(*seq).ok()) {
      const std::string line = key + "\n";
      if (::write(acks, line.data(), line.size()) != static_cast<ssize_t>(line.size())) return 1;
      ::fsync(acks);
    }
    (*w)->simulate_crash();  // leave without a clean close: the next claimer fences us anyway
    // Uneven pauses, so that some rounds run alone and some overlap.
    ::usleep(static_cast<useconds_t>(((std::stoi(id) * 7 + r * 13) % 25) * 1000));
  }
  ::close(acks);
  return 0;
}
