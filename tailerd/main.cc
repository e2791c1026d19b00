// tailerd: streams a database's new writes over HTTP (NDJSON or
// Server-Sent Events), like `tail -f`. The life cycle is server/daemon.cc.
#include "server/daemon.h"
#include "tailer_role.h"

int main(int argc, char** argv) { return isle::server::run_daemon(argc, argv, isle::tailerd::spec()); }
