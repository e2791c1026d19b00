// writerd: the one process that writes a database, over HTTP.
// Everything but the writer's own routes lives in server/daemon.cc.
#include "server/daemon.h"
#include "writer_role.h"

int main(int argc, char** argv) { return isle::server::run_daemon(argc, argv, isle::writerd::spec()); }
