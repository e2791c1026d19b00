// readerd: serves gets, multi-gets and scans of a database over HTTP; run
// as many as you like on as many hosts. The life cycle is server/daemon.cc.
#include "reader_role.h"
#include "server/daemon.h"

int main(int argc, char** argv) { return isle::server::run_daemon(argc, argv, isle::readerd::spec()); }
