// writerd's role: the config keys under `writer.` and the Role that serves
// PUT/DELETE /v1/kv/{key}, POST /v1/batch and POST /v1/flush from one
// isle::Writer (docs/http-api.md).
#pragma once

#include "server/daemon.h"

namespace isle::writerd {

server::DaemonSpec spec();

}  // namespace isle::writerd
