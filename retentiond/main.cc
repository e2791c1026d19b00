// retentiond: removes a database's data once it is older than the
// retention policy. The life cycle is server/daemon.cc.
#include "retention_role.h"
#include "server/daemon.h"

int main(int argc, char** argv) { return isle::server::run_daemon(argc, argv, isle::retentiond::spec()); }
