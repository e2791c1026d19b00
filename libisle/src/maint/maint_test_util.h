// Writers for the maintenance suites that test SST objects (compaction,
// retention, GC of sstable/ objects): every flush is committed as an
// sstable/ object, as before inline flushes existed. The writer's default
// sends small flushes inline (WriterOptions::inline_flush_max_bytes), which
// compaction and retention never take as inputs until they are
// materialized; inline_consumers_test.cc and the model test cover that.
// Test-only; every helper is inline.
#pragma once

#include <memory>

#include "lsm/engine_test_util.h"

namespace isle {

inline WriterOptions object_writer_options(const testing::EngineEnv& env) {
  WriterOptions o = env.writer_options();
  o.inline_flush_max_bytes = 0;
  return o;
}

inline std::unique_ptr<Writer> object_writer(testing::EngineEnv& env) {
  return env.writer(object_writer_options(env));
}

}  // namespace isle
