// Shared scaffolding of the `isle` command-line tool: the command table,
// the global context (store URL, database prefix, output mode), exit codes,
// error reporting, and small helpers every command group uses (JSON for
// byte strings, hex, sizes, opening the database's roles). Durations are
// parsed by the daemons' config parser (server/config.h), so the CLI and
// the YAML files spell them the same way.
//
// Invariants every command keeps:
//   * stdout carries only the command's result (values, NDJSON, JSON,
//     reports); diagnostics, warnings and progress lines go to stderr;
//   * a failure is reported once, as `isle: <what failed>: <status>`, and
//     the command returns one of the ExitCode values below;
//   * no library Status is ever turned into a crash: corrupt objects are
//     surfaced as messages and exit codes.
#pragma once

#include <boost/program_options.hpp>
#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "isle/db.h"
#include "isle/object_store.h"
#include "isle/status.h"

namespace isle::cli {

namespace po = boost::program_options;

// Exit codes scripts can rely on (documented in `isle --help` and
// docs/cli.md; never renumber them).
enum ExitCode : int {
  kExitOk = 0,
  kExitError = 1,           // store, I/O, corruption, anything else
  kExitUsage = 2,           // bad command line
  kExitNotFound = 3,        // get: the key does not exist
  kExitCursorExpired = 4,   // tail: the change cursor is older than the kept history
  kExitVerifyFailed = 5,    // verify: an object is corrupt or missing
  kExitFenced = 75,         // another writer took over (EX_TEMPFAIL)
};

// The exit code for a failed library call: Fenced -> 75,
// ChangeCursorExpired -> 4, anything else -> 1.
int exit_code_for(const Status& s);

// Options every command accepts, and what the command line / environment
// made of them.
class Context {
 public:
  std::string store_url;  // --store or $ISLE_STORE
  std::string prefix;     // --prefix or $ISLE_PREFIX (the database's folder)
  // --manifest-store / $ISLE_MANIFEST_STORE and --gc-marks-store /
  // $ISLE_GC_MARKS_STORE: the manifest and GC's marks in stores of their
  // own (as the daemons' store.manifest_url / store.gc_marks_url), under
  // the same prefix. Empty = in the --store.
  std::string manifest_store_url;
  std::string gc_marks_store_url;
  bool json = false;      // --json
  bool quiet = false;     // --quiet: no warnings, no progress lines
  bool progress = true;   // --no-progress turns it off
  std::string command;    // "get", "manifest show", ... (for messages)

  // The store (opened once). Without a URL: a usage error is printed and
  // nullopt returned with *exit_code = 2; on an open error, 1.
  std::optional<ObjectStorePtr> store(int* exit_code);
  // {prefix, manifest_storage, gc_mark_storage} from the flags; same
  // error convention (a store URL that does not open: 1).
  std::optional<DBOptions> db_options(int* exit_code);
  // DB::open(store, db_options()); same error convention.
  std::optional<DB> db(int* exit_code);
  // Reader with modest caches (a CLI process reads little and exits).
  std::optional<std::unique_ptr<Reader>> reader(int* exit_code);
  // Warns on stderr (unless --quiet) that opening a writer fences any
  // running writer (writerd) of this database, then opens it.
  std::optional<std::unique_ptr<Writer>> writer(int* exit_code);
  // The store scoped to the prefix, with the engine's retries: keys are
  // relative to the database ("sstable/<id>.sst").
  std::optional<ObjectStorePtr> scoped_store(int* exit_code);

  // Prints `isle: <what>: <status>` to stderr and returns exit_code_for(s).
  int fail(std::string_view what, const Status& s) const;
  // Prints `isle: <message>` to stderr and returns `code`.
  int fail(std::string_view message, int code = kExitError) const;
  // Prints `isle: <command>: <message>` plus a hint to stderr; returns 2.
  int usage_error(std::string_view message) const;
  // Prints `isle: warning: <message>` unless --quiet.
  void warn(std::string_view message) const;

 private:
  std::optional<ObjectStorePtr> store_;
};

// One command (or "group subcommand", e.g. "manifest show").
struct Command {
  std::string name;      // "get", "manifest show"
  std::string args;      // "KEY [--hex]" for the usage line
  std::string summary;   // one line for `isle --help`
  std::string details;   // extra paragraphs for `isle CMD --help` (may be empty)
  // Adds the command's own options and positional arguments.
  std::function<void(po::options_description&, po::positional_options_description&)> options;
  // Runs it; returns the exit code.
  std::function<int(Context&, const po::variables_map&)> run;
};

// Each command group adds its commands (commands_*.cc).
void add_kv_commands(std::vector<Command>* out);       // put get del flush scan tail
void add_inspect_commands(std::vector<Command>* out);  // manifest show, sst dump, verify
void add_admin_commands(std::vector<Command>* out);    // gc, bench

// ---- helpers -------------------------------------------------------------

// Strict UTF-8 (no overlongs, no surrogates, at most U+10FFFF).
bool valid_utf8(std::string_view s);
// Sets j[name] = s when s is valid UTF-8, else j[name + "_b64"] = base64(s)
// (the convention of the daemons' HTTP API).
void set_bytes(nlohmann::ordered_json& j, const std::string& name, std::string_view s);
// One JSON value per line: compact, invalid UTF-8 impossible by construction.
std::string dump_line(const nlohmann::ordered_json& j);
// Lower-case hex and its inverse (nullopt on odd length or a non-hex char).
std::string hex_encode(std::string_view bytes);
std::optional<std::string> hex_decode(std::string_view text);
// A byte string made safe for a terminal line: printable ASCII as is,
// everything else as \xHH (and \\ for backslash).
std::string printable(std::string_view bytes);

// "1.5 MiB" style.
std::string format_bytes(uint64_t bytes);

// The smallest key greater than every key starting with `prefix`; "" when
// there is none (prefix empty or all 0xff).
std::string prefix_successor(std::string_view prefix);

// Reads a whole file ("-" = stdin). IOError on failure.
Result<std::string> read_file(const std::string& path);

// Writes bytes to stdout; false when stdout is gone (EPIPE) or failed.
bool write_stdout(std::string_view bytes);

}  // namespace isle::cli
