// `isle`: the IsleDB command-line tool. It works directly on a bucket URL
// and a database prefix (no daemon needed): quick put/get/del/scan/tail,
// inspection (manifest show, sst dump, verify) and admin (gc, bench).
//
// This file only parses the command line and dispatches:
//   isle [GLOBAL OPTIONS] COMMAND [ARGS and OPTIONS, global ones too]
// Global options may come before the command (only they may) or anywhere
// after it. Every usage error exits 2; the commands (commands_*.cc) return
// the other exit codes listed in `isle --help` (cli.h, ExitCode).
#include <cstdio>
#include <cstdlib>
#include <iostream>
#include <set>
#include <sstream>
#include <string>
#include <vector>

#include "cli.h"

namespace {

using namespace isle::cli;

constexpr const char* kVersion = "0.1.0";

const char* kExitCodes =
    "Exit codes:\n"
    "  0   ok\n"
    "  1   error (store, I/O, corruption, ...)\n"
    "  2   usage error\n"
    "  3   get: key not found\n"
    "  4   tail: change cursor expired (older than the history the database keeps)\n"
    "  5   verify: an SST or blob is corrupt or missing\n"
    "  75  fenced: another writer took over while this one was writing\n";

const char* kEnvironment =
    "Environment:\n"
    "  ISLE_STORE   default for --store\n"
    "  ISLE_PREFIX  default for --prefix\n"
    "  ISLE_MANIFEST_STORE  default for --manifest-store\n"
    "  ISLE_GC_MARKS_STORE  default for --gc-marks-store\n";

void add_global_options(po::options_description& g) {
  g.add_options()
      ("store", po::value<std::string>(), "object store URL: file:///ABS/DIR, mem:// (env ISLE_STORE)")
      ("prefix", po::value<std::string>(), "the database's folder in the bucket (env ISLE_PREFIX; default: the root)")
      ("manifest-store", po::value<std::string>(), "object store URL of the manifest, if not in --store (env ISLE_MANIFEST_STORE)")
      ("gc-marks-store", po::value<std::string>(), "object store URL of GC's marks, if not in --store (env ISLE_GC_MARKS_STORE)")
      ("json", po::bool_switch(), "machine-readable JSON output where it applies")
      ("quiet,q", po::bool_switch(), "no warnings and no progress lines on stderr")
      ("no-progress", po::bool_switch(), "no progress lines on stderr")
      ("help,h", po::bool_switch(), "show help");
}

// Global options that take a value / that are switches (pass 1 skips them
// when looking for the command word).
const std::set<std::string> kGlobalWithValue = {"--store", "--prefix", "--manifest-store",
                                                  "--gc-marks-store"};
const std::set<std::string> kGlobalSwitches = {"--json", "--quiet", "-q", "--no-progress",
                                                "--help", "-h", "--version"};
// Commands with subcommands.
const std::set<std::string> kGroups = {"manifest", "sst"};

std::string usage_line(const Command& c) {
  return "isle " + c.name + (c.args.empty() ? "" : " " + c.args);
}

void print_main_help(const std::vector<Command>& commands) {
  std::ostringstream out;
  out << "isle " << kVersion << ": the IsleDB command-line tool. It works directly on a bucket\n"
      << "URL and a database prefix; no daemon is needed.\n\n"
      << "Usage: isle [GLOBAL OPTIONS] COMMAND [ARGS] [OPTIONS]\n\n"
      << "Commands:\n";
  for (const auto& c : commands) {
    std::string name = c.name;
    name.resize(std::max<size_t>(name.size(), 15), ' ');
    out << "  " << name << " " << c.summary << "\n";
  }
  po::options_description g("Global options (before or after the command)");
  add_global_options(g);
  g.add_options()("version", "print the version");
  out << "\n" << g << "\n"
      << "put, del, flush and bench open a writer: that claims the writer fence and so FENCES a\n"
      << "running writer of the database (writerd); it stops with its 'fenced' exit code.\n\n"
      << kExitCodes << "\n"
      << kEnvironment << "\n"
      << "'isle COMMAND --help' describes one command; docs/cli.md has examples.\n";
  std::cout << out.str();
}

void print_command_help(const Command& c) {
  po::options_description own;
  po::positional_options_description pos;
  c.options(own, pos);
  // Positional arguments are in the usage line, not the option list.
  std::set<std::string> positional;
  for (unsigned i = 0; i < pos.max_total_count() && i < 16; i++) {
    positional.insert(pos.name_for_position(i));
  }
  po::options_description visible("Options");
  for (const auto& o : own.options()) {
    if (!positional.count(o->long_name())) visible.add(o);
  }
  po::options_description g("Global options");
  add_global_options(g);
  std::ostringstream out;
  out << "Usage: " << usage_line(c) << "\n\n" << c.summary << "\n";
  if (!c.details.empty()) out << "\n" << c.details << "\n";
  if (!visible.options().empty()) out << "\n" << visible;
  out << "\n" << g << "\n" << kExitCodes;
  std::cout << out.str();
}

const Command* find_command(const std::vector<Command>& commands, const std::string& name) {
  for (const auto& c : commands) {
    if (c.name == name) return &c;
  }
  return nullptr;
}

int usage(const std::string& message) {
  std::fprintf(stderr, "isle: %s\ntry 'isle --help'\n", message.c_str());
  return kExitUsage;
}

int run(int argc, char** argv) {
  std::vector<Command> commands;
  add_kv_commands(&commands);
  add_inspect_commands(&commands);
  add_admin_commands(&commands);

  std::vector<std::string> args(argv + 1, argv + argc);
  // Pass 1: global options, then the command word(s).
  std::vector<std::string> rest;
  size_t i = 0;
  bool help = false;
  for (; i < args.size(); i++) {
    const std::string& a = args[i];
    if (a.size() < 2 || a[0] != '-') break;
    const std::string name = a.substr(0, a.find('='));
    if (kGlobalWithValue.count(name)) {
      rest.push_back(a);
      if (name == a) {
        if (i + 1 >= args.size()) return usage("option " + a + " needs a value");
        rest.push_back(args[++i]);
      }
    } else if (kGlobalSwitches.count(a)) {
      if (a == "--version") {
        std::printf("isle %s\n", kVersion);
        return kExitOk;
      }
      if (a == "--help" || a == "-h") help = true;
      rest.push_back(a);
    } else {
      return usage("unknown option '" + a + "' before the command (command options go after it)");
    }
  }
  if (i >= args.size()) {
    if (help) {
      print_main_help(commands);
      return kExitOk;
    }
    return usage("no command given");
  }
  std::string name = args[i++];
  if (name == "help") {
    std::string topic;
    for (; i < args.size(); i++) topic += (topic.empty() ? "" : " ") + args[i];
    if (topic.empty()) {
      print_main_help(commands);
      return kExitOk;
    }
    const Command* c = find_command(commands, topic);
    if (!c) return usage("no such command: " + topic);
    print_command_help(*c);
    return kExitOk;
  }
  if (kGroups.count(name)) {
    if (i >= args.size() || args[i].empty() || args[i][0] == '-') {
      std::string subs;
      for (const auto& c : commands) {
        if (c.name.rfind(name + " ", 0) == 0) subs += "\n  isle " + c.name;
      }
      if (i < args.size() && (args[i] == "--help" || args[i] == "-h")) {
        std::printf("Subcommands of '%s':%s\n", name.c_str(), subs.c_str());
        return kExitOk;
      }
      return usage("'" + name + "' needs a subcommand:" + subs);
    }
    name += " " + args[i++];
  }
  const Command* cmd = find_command(commands, name);
  if (!cmd) return usage("unknown command '" + name + "'");
  rest.insert(rest.end(), args.begin() + static_cast<long>(i), args.end());

  // Pass 2: everything else against the command's options + the globals.
  po::options_description all;
  po::options_description global;
  add_global_options(global);
  po::options_description own;
  po::positional_options_description pos;
  cmd->options(own, pos);
  all.add(global).add(own);
  Context ctx;
  ctx.command = cmd->name;
  po::variables_map vm;
  try {
    const int style = po::command_line_style::unix_style ^ po::command_line_style::allow_guessing;
    po::store(po::command_line_parser(rest).options(all).positional(pos).style(style).run(), vm);
    po::notify(vm);
  } catch (const po::error& e) {
    return ctx.usage_error(e.what());
  }
  if (vm["help"].as<bool>()) {
    print_command_help(*cmd);
    return kExitOk;
  }
  if (vm.count("store")) {
    ctx.store_url = vm["store"].as<std::string>();
  } else if (const char* e = std::getenv("ISLE_STORE")) {
    ctx.store_url = e;
  }
  if (vm.count("prefix")) {
    ctx.prefix = vm["prefix"].as<std::string>();
  } else if (const char* e = std::getenv("ISLE_PREFIX")) {
    ctx.prefix = e;
  }
  if (vm.count("manifest-store")) {
    ctx.manifest_store_url = vm["manifest-store"].as<std::string>();
  } else if (const char* e = std::getenv("ISLE_MANIFEST_STORE")) {
    ctx.manifest_store_url = e;
  }
  if (vm.count("gc-marks-store")) {
    ctx.gc_marks_store_url = vm["gc-marks-store"].as<std::string>();
  } else if (const char* e = std::getenv("ISLE_GC_MARKS_STORE")) {
    ctx.gc_marks_store_url = e;
  }
  ctx.json = vm["json"].as<bool>();
  ctx.quiet = vm["quiet"].as<bool>();
  ctx.progress = !ctx.quiet && !vm["no-progress"].as<bool>();
  return cmd->run(ctx, vm);
}

}  // namespace

int main(int argc, char** argv) {
  try {
    const int code = run(argc, argv);
    if (std::fflush(stdout) != 0 && code == kExitOk) {
      std::fprintf(stderr, "isle: writing to stdout failed\n");
      return kExitError;
    }
    return code;
  } catch (const std::exception& e) {
    // Only a bug gets here (the library reports errors as Status).
    std::fprintf(stderr, "isle: internal error: %s\n", e.what());
    return kExitError;
  }
}
