// compactord's role: config keys under `compactor.` and `gc.`, compaction
// and garbage collection cycles in the background, POST /v1/run (one
// compaction now) and POST /v1/gc (one GC pass now).
#pragma once

#include "server/daemon.h"

namespace isle::compactord {

server::DaemonSpec spec();

}  // namespace isle::compactord
