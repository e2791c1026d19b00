// Implementation of DaemonProcess and run_capture (see daemon_process.h).
// Children are forked with PR_SET_PDEATHSIG so that a test binary killed
// by a timeout never leaves daemons running behind it.
#include "testutil/daemon_process.h"

#include <fcntl.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cctype>
#include <fstream>
#include <map>
#include <memory>
#include <sstream>
#include <thread>

#include "testutil/testutil.h"

namespace isle::testing {

namespace {

bool plain_scalar(const std::string& v) {
  if (v.empty()) return false;
  for (char c : v) {
    bool ok = std::isalnum(static_cast<unsigned char>(c)) || c == '_' || c == '.' || c == '/' ||
              c == ':' || c == '-' || c == '+' || c == '@';
    if (!ok) return false;
  }
  // YAML would read these as something else than the string we mean.
  return v.front() != '-' && v.front() != ':' && v.back() != ':';
}

std::string yaml_scalar(const std::string& v) {
  if (plain_scalar(v)) return v;
  std::string out = "\"";
  for (char c : v) {
    switch (c) {
      case '"': out += "\\\""; break;
      case '\\': out += "\\\\"; break;
      case '\n': out += "\\n"; break;
      case '\t': out += "\\t"; break;
      default: out += c;
    }
  }
  return out + "\"";
}

struct YamlNode {
  std::vector<std::string> order;
  std::map<std::string, std::unique_ptr<YamlNode>> children;
  std::map<std::string, std::string> values;
};

void render(const YamlNode& node, int indent, std::string& out) {
  for (const std::string& k : node.order) {
    out.append(static_cast<size_t>(indent), ' ');
    auto v = node.values.find(k);
    if (v != node.values.end()) {
      out += k + ": " + yaml_scalar(v->second) + "\n";
    } else {
      out += k + ":\n";
      render(*node.children.at(k), indent + 2, out);
    }
  }
}

std::string read_file(const std::string& path) {
  std::ifstream f(path, std::ios::binary);
  std::stringstream ss;
  ss << f.rdbuf();
  return ss.str();
}

int decode_status(int status) {
  if (WIFEXITED(status)) return WEXITSTATUS(status);
  if (WIFSIGNALED(status)) return 128 + WTERMSIG(status);
  return -1;
}

// fork + exec with stdout/stderr into `log_path` (appended). -1 on failure.
pid_t spawn_logged(const std::string& path, const std::vector<std::string>& args,
                   const std::string& log_path) {
  std::vector<std::string> all;
  all.push_back(path);
  all.insert(all.end(), args.begin(), args.end());
  std::vector<char*> argv;
  for (auto& a : all) argv.push_back(a.data());
  argv.push_back(nullptr);
  int log_fd = ::open(log_path.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
  if (log_fd < 0) return -1;
  pid_t parent = ::getpid();
  pid_t pid = ::fork();
  if (pid == 0) {
    // Only async-signal-safe calls from here on.
    ::prctl(PR_SET_PDEATHSIG, SIGKILL);
    if (::getppid() != parent) ::_exit(127);
    ::dup2(log_fd, 1);
    ::dup2(log_fd, 2);
    int devnull = ::open("/dev/null", O_RDONLY);
    if (devnull >= 0) ::dup2(devnull, 0);
    ::execv(path.c_str(), argv.data());
    ::_exit(127);
  }
  ::close(log_fd);
  return pid;
}

}  // namespace

std::string settings_to_yaml(const Settings& settings) {
  YamlNode root;
  for (const auto& [path, value] : settings) {
    YamlNode* node = &root;
    size_t start = 0;
    for (;;) {
      size_t dot = path.find('.', start);
      std::string part = path.substr(start, dot == std::string::npos ? std::string::npos : dot - start);
      bool known = node->values.count(part) || node->children.count(part);
      if (!known) node->order.push_back(part);
      if (dot == std::string::npos) {
        node->values[part] = value;
        break;
      }
      auto& child = node->children[part];
      if (!child) child = std::make_unique<YamlNode>();
      node = child.get();
      start = dot + 1;
    }
  }
  std::string out;
  render(root, 0, out);
  return out;
}

ProgramRun run_capture(const std::string& path, const std::vector<std::string>& args,
                       const std::string& dir, std::chrono::milliseconds timeout) {
  static int counter = 0;
  std::string log = dir + "/run-" + std::to_string(::getpid()) + "-" + std::to_string(++counter) + ".out";
  ProgramRun run;
  pid_t pid = spawn_logged(path, args, log);
  if (pid < 0) {
    run.output = "could not start " + path;
    return run;
  }
  auto deadline = Clock::now() + timeout;
  int status = 0;
  for (;;) {
    pid_t r = ::waitpid(pid, &status, WNOHANG);
    if (r == pid) {
      run.exit_code = decode_status(status);
      break;
    }
    if (Clock::now() >= deadline) {
      ::kill(pid, SIGKILL);
      ::waitpid(pid, &status, 0);
      run.exit_code = -1;
      break;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  run.output = read_file(log);
  return run;
}

DaemonProcess::DaemonProcess(std::string name, std::string dir, Settings yaml, Settings sets)
    : name_(std::move(name)), dir_(std::move(dir)), yaml_(std::move(yaml)), sets_(std::move(sets)) {
  static std::atomic<int> instances{0};
  instance_ = ++instances;
  binary_ = built_program(name_);
}

DaemonProcess::~DaemonProcess() {
  if (pid_ > 0) {
    ::kill(pid_, SIGKILL);
    int status = 0;
    ::waitpid(pid_, &status, 0);
  }
}

void DaemonProcess::set(const std::string& path, const std::string& value) {
  for (auto& [p, v] : sets_) {
    if (p == path) {
      v = value;
      return;
    }
  }
  sets_.emplace_back(path, value);
}

::testing::AssertionResult DaemonProcess::failure(const std::string& what) const {
  return ::testing::AssertionFailure() << name_ << " (" << config_path_ << "): " << what
                                       << "\n----- " << log_path_ << " (tail) -----\n"
                                       << log(16 * 1024) << "\n----- end of " << name_ << " log -----";
}

::testing::AssertionResult DaemonProcess::spawn() {
  if (pid_ > 0) return failure("already running");
  generation_++;
  std::string stem = dir_ + "/" + name_ + "-" + std::to_string(instance_) + "." + std::to_string(generation_);
  config_path_ = stem + ".yaml";
  log_path_ = stem + ".log";
  address_file_ = stem + ".addr";
  address_.clear();
  exit_code_.reset();
  Settings yaml = yaml_;
  bool has_listen = false;
  for (auto& [p, v] : yaml) {
    has_listen |= p == "server.listen";
    if (p == "server.address_file") address_file_ = v;
  }
  for (auto& [p, v] : sets_) {
    if (p == "server.address_file") address_file_ = v;
  }
  if (!has_listen) yaml.emplace_back("server.listen", "127.0.0.1:0");
  bool has_file = false;
  for (auto& [p, v] : yaml) has_file |= p == "server.address_file";
  if (!has_file) yaml.emplace_back("server.address_file", address_file_);
  {
    std::ofstream f(config_path_);
    f << "# generated by daemon_process.cc for " << name_ << "\n" << settings_to_yaml(yaml);
    if (!f) return failure("cannot write " + config_path_);
  }
  ::unlink(address_file_.c_str());
  std::vector<std::string> args = {"--config", config_path_};
  for (const auto& [p, v] : sets_) {
    args.push_back("--set");
    args.push_back(p + "=" + v);
  }
  pid_ = spawn_logged(binary_, args, log_path_);
  if (pid_ < 0) return failure("cannot start " + binary_);
  return ::testing::AssertionSuccess();
}

::testing::AssertionResult DaemonProcess::wait_listening(std::chrono::milliseconds timeout) {
  auto deadline = Clock::now() + timeout;
  for (;;) {
    std::string text = read_file(address_file_);
    if (!text.empty() && text.back() == '\n') {
      text.pop_back();
      address_ = text;
      return ::testing::AssertionSuccess();
    }
    if (!running()) {
      return failure("exited with code " + std::to_string(exit_code_.value_or(-1)) +
                     " before writing " + address_file_);
    }
    if (Clock::now() >= deadline) return failure("no address in " + address_file_ + " in time");
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
}

HttpClient DaemonProcess::client() const {
  HttpClient c(address_);
  c.set_token(token_);
  return c;
}

::testing::AssertionResult DaemonProcess::wait_ready(std::chrono::milliseconds timeout) {
  auto deadline = Clock::now() + timeout;
  HttpClient c = client();
  HttpResult last;
  for (;;) {
    last = c.request("GET", "/readyz", {}, {}, std::chrono::seconds(5));
    if (last.status == 200) return ::testing::AssertionSuccess();
    if (!running()) {
      return failure("exited with code " + std::to_string(exit_code_.value_or(-1)) +
                     " before /readyz answered 200 (last: " + last.describe() + ")");
    }
    if (Clock::now() >= deadline) return failure("/readyz not 200 in time; last: " + last.describe());
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
}

::testing::AssertionResult DaemonProcess::start(std::chrono::milliseconds timeout) {
  auto deadline = Clock::now() + timeout;
  if (auto r = spawn(); !r) return r;
  if (auto r = wait_listening(timeout); !r) return r;
  auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now());
  return wait_ready(std::max(left, std::chrono::milliseconds(1000)));
}

bool DaemonProcess::running() {
  if (pid_ <= 0) return false;
  int status = 0;
  pid_t r = ::waitpid(pid_, &status, WNOHANG);
  if (r == pid_) {
    exit_code_ = decode_status(status);
    pid_ = -1;
    return false;
  }
  return true;
}

void DaemonProcess::send_signal(int sig) {
  if (running()) ::kill(pid_, sig);
}

std::optional<int> DaemonProcess::wait_exit(std::chrono::milliseconds timeout) {
  auto deadline = Clock::now() + timeout;
  while (running()) {
    if (Clock::now() >= deadline) return std::nullopt;
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  return exit_code_;
}

std::optional<int> DaemonProcess::stop(std::chrono::milliseconds timeout) {
  if (!running()) return exit_code_;
  terminate();
  std::optional<int> code = wait_exit(timeout);
  if (!code) {
    kill();
    wait_exit(std::chrono::seconds(10));
  }
  return code;
}

std::string DaemonProcess::log(size_t max_bytes) const {
  std::string text = read_file(log_path_);
  if (text.size() > max_bytes) {
    text = "...(" + std::to_string(text.size() - max_bytes) + " bytes cut)...\n" +
           text.substr(text.size() - max_bytes);
  }
  return text;
}

}  // namespace isle::testing
