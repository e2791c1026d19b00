// retentiond's role: config keys under `retention.`, cleanup cycles in the
// background, and POST /v1/run (one cleanup now).
#pragma once

#include "server/daemon.h"

namespace isle::retentiond {

server::DaemonSpec spec();

}  // namespace isle::retentiond
