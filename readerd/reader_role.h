// readerd's role: the config keys under `reader.` and the Role serving
// GET /v1/kv/{key}, POST /v1/mget, GET /v1/scan, GET /v1/manifest and
// POST /v1/refresh from one isle::Reader (docs/http-api.md).
#pragma once

#include "server/daemon.h"

namespace isle::readerd {

server::DaemonSpec spec();

}  // namespace isle::readerd
