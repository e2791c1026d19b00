// compactord: merges a database's SSTs and collects its garbage, usually
// on a host of its own. The life cycle is server/daemon.cc.
#include "compactor_role.h"
#include "server/daemon.h"

int main(int argc, char** argv) { return isle::server::run_daemon(argc, argv, isle::compactord::spec()); }
