// tailerd's role: the config keys under `tailer.` and the Role serving
// GET /v1/tail (NDJSON or SSE) and GET /v1/manifest from one
// isle::TailingReader (docs/http-api.md).
#pragma once

#include "server/daemon.h"

namespace isle::tailerd {

server::DaemonSpec spec();

}  // namespace isle::tailerd
