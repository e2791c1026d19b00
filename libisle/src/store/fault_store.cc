// FaultStore: rule matching and the three fault actions; see fault_store.h.
#include "store/fault_store.h"

namespace isle {

namespace {
uint32_t op_bit(StoreOp op) { return uint32_t{1} << static_cast<unsigned>(op); }
}  // namespace

// ---- FaultRule builder ----

FaultRule FaultRule::on(StoreOp op) {
  FaultRule r;
  r.op_mask_ = op_bit(op);
  return r;
}

FaultRule FaultRule::on_any() {
  FaultRule r;
  r.op_mask_ = (uint32_t{1} << kStoreOpCount) - 1;
  return r;
}

FaultRule& FaultRule::or_on(StoreOp op) {
  op_mask_ |= op_bit(op);
  return *this;
}

FaultRule& FaultRule::key_prefix(std::string prefix) {
  key_prefix_ = std::move(prefix);
  return *this;
}

FaultRule& FaultRule::key_equals(std::string key) {
  key_equals_ = std::move(key);
  return *this;
}

FaultRule& FaultRule::put_mode(PutMode mode) {
  put_mode_ = mode;
  return *this;
}

FaultRule& FaultRule::when(std::function<bool(const FaultContext&)> predicate) {
  predicate_ = std::move(predicate);
  return *this;
}

FaultRule& FaultRule::skip(uint64_t n) {
  skip_ = n;
  return *this;
}

FaultRule& FaultRule::times(uint64_t n) {
  max_fires_ = n;
  return *this;
}

FaultRule& FaultRule::nth(uint64_t n) {
  skip_ = n > 0 ? n - 1 : 0;
  max_fires_ = 1;
  return *this;
}

FaultRule& FaultRule::probability(double p) {
  probability_ = p;
  return *this;
}

FaultRule& FaultRule::delay(std::chrono::milliseconds d) {
  delay_ = d;
  return *this;
}

FaultRule& FaultRule::fail(Status status) {
  if (!status.ok()) fail_ = std::move(status);
  return *this;
}

FaultRule& FaultRule::lose_response() {
  lose_response_ = true;
  return *this;
}

FaultRule& FaultRule::named(std::string name) {
  name_ = std::move(name);
  return *this;
}

bool FaultRule::selects(const FaultContext& ctx) const {
  if ((op_mask_ & op_bit(ctx.op)) == 0) return false;
  if (put_mode_ && (ctx.op != StoreOp::kPut || ctx.put_mode != *put_mode_)) return false;
  if (key_prefix_ && ctx.key.substr(0, key_prefix_->size()) != *key_prefix_) return false;
  if (key_equals_ && ctx.key != *key_equals_) return false;
  if (predicate_ && !predicate_(ctx)) return false;
  return true;
}

// ---- FaultStore ----

FaultStore::FaultStore(ObjectStorePtr inner, uint64_t seed, SleepFunction sleep)
    : inner_(std::move(inner)), sleep_(std::move(sleep)), rnd_(seed) {
  if (!sleep_) sleep_ = real_sleep;
}

size_t FaultStore::add_rule(FaultRule rule) {
  std::lock_guard lock(mu_);
  rules_.push_back(RuleState{std::move(rule)});
  return rules_.size() - 1;
}

void FaultStore::remove_rule(size_t id) {
  std::lock_guard lock(mu_);
  if (id < rules_.size()) rules_[id].enabled = false;
}

void FaultStore::clear_rules() {
  std::lock_guard lock(mu_);
  for (auto& r : rules_) r.enabled = false;
}

uint64_t FaultStore::matched(size_t id) const {
  std::lock_guard lock(mu_);
  return id < rules_.size() ? rules_[id].matched : 0;
}

uint64_t FaultStore::fired(size_t id) const {
  std::lock_guard lock(mu_);
  return id < rules_.size() ? rules_[id].fired : 0;
}

uint64_t FaultStore::total_fired() const {
  std::lock_guard lock(mu_);
  return total_fired_;
}

FaultStore::Decision FaultStore::decide(StoreOp op, std::string_view key, PutMode mode,
                                        const std::vector<std::string>* keys) {
  std::lock_guard lock(mu_);
  for (RuleState& rs : rules_) {
    if (!rs.enabled) continue;
    const FaultRule& rule = rs.rule;
    bool selected = false;
    if (keys != nullptr && !keys->empty()) {
      for (const auto& k : *keys) {
        if (rule.selects(FaultContext{op, k, mode})) {
          selected = true;
          break;
        }
      }
    } else {
      selected = rule.selects(FaultContext{op, key, mode});
    }
    if (!selected) continue;

    rs.matched++;
    if (rs.matched <= rule.skip_) continue;
    if (rule.max_fires_ && rs.fired >= *rule.max_fires_) continue;
    if (rule.probability_ < 1.0 && !rnd_.chance(rule.probability_)) continue;

    rs.fired++;
    total_fired_++;
    Decision d;
    d.delay = rule.delay_;
    d.fail = rule.fail_;
    d.lose_response = rule.lose_response_;
    return d;
  }
  return Decision{};
}

std::optional<Status> FaultStore::before(const Decision& d) {
  if (d.delay.count() > 0) sleep_(std::chrono::duration_cast<std::chrono::microseconds>(d.delay));
  return d.fail;
}

namespace {
Status lost(StoreOp op) {
  return Status::UnknownOutcome("fault injection: response to " + std::string(store_op_name(op)) +
                                " lost after it was applied");
}
}  // namespace

Result<GetResult> FaultStore::get(std::string_view key, const GetOptions& options) {
  Decision d = decide(StoreOp::kGet, key, PutMode::kOverwrite, nullptr);
  if (auto s = before(d)) return *s;
  auto r = inner_->get(key, options);
  if (d.lose_response) return lost(StoreOp::kGet);
  return r;
}

Result<ObjectMeta> FaultStore::head(std::string_view key) {
  Decision d = decide(StoreOp::kHead, key, PutMode::kOverwrite, nullptr);
  if (auto s = before(d)) return *s;
  auto r = inner_->head(key);
  if (d.lose_response) return lost(StoreOp::kHead);
  return r;
}

Result<ObjectMeta> FaultStore::put(std::string_view key, std::string_view data,
                                   const PutOptions& options) {
  Decision d = decide(StoreOp::kPut, key, options.mode, nullptr);
  if (auto s = before(d)) return *s;
  auto r = inner_->put(key, data, options);
  if (d.lose_response) return lost(StoreOp::kPut);
  return r;
}

Status FaultStore::remove(std::string_view key) {
  Decision d = decide(StoreOp::kRemove, key, PutMode::kOverwrite, nullptr);
  if (auto s = before(d)) return *s;
  Status st = inner_->remove(key);
  if (d.lose_response) return lost(StoreOp::kRemove);
  return st;
}

Result<std::vector<DeleteOutcome>> FaultStore::remove_batch(const std::vector<std::string>& keys) {
  Decision d = decide(StoreOp::kRemoveBatch, {}, PutMode::kOverwrite, &keys);
  if (auto s = before(d)) return *s;
  auto r = inner_->remove_batch(keys);
  if (d.lose_response) return lost(StoreOp::kRemoveBatch);
  return r;
}

Result<ListPage> FaultStore::list(const ListOptions& options) {
  Decision d = decide(StoreOp::kList, options.prefix, PutMode::kOverwrite, nullptr);
  if (auto s = before(d)) return *s;
  auto r = inner_->list(options);
  if (d.lose_response) return lost(StoreOp::kList);
  return r;
}

}  // namespace isle
