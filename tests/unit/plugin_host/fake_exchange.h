// An in-memory Exchange for plugin host tests. Thread-safe. Callbacks run
// inline on the caller's thread (allowed by the contract: exactly once).
#ifndef EHX_TESTS_UNIT_PLUGIN_HOST_FAKE_EXCHANGE_H_
#define EHX_TESTS_UNIT_PLUGIN_HOST_FAKE_EXCHANGE_H_

#include <chrono>
#include <condition_variable>
#include <deque>
#include <functional>
#include <map>
#include <mutex>
#include <string>
#include <utility>
#include <vector>

#include "ehx/exchange.h"

namespace ehx::testing {

class FakeExchange : public Exchange {
 public:
  struct Published {
    std::string sender;
    ehx::exchange::v1::Envelope envelope;
  };

  // Decides Publish's answer; default: accepted with message id "m<n>".
  using PublishFn =
      std::function<absl::StatusOr<ehx::exchange::v1::PublishReceipt>(
          const Published&)>;

  void SetPublishAnswer(PublishFn fn) {
    std::lock_guard<std::mutex> lock(mu_);
    publish_fn_ = std::move(fn);
  }

  void Publish(std::string sender, ehx::exchange::v1::Envelope envelope,
               Callback<ehx::exchange::v1::PublishReceipt> done) override {
    PublishFn fn;
    Published p{std::move(sender), std::move(envelope)};
    int n;
    {
      std::lock_guard<std::mutex> lock(mu_);
      published_.push_back(p);
      n = static_cast<int>(published_.size());
      fn = publish_fn_;
      cv_.notify_all();
    }
    if (fn) {
      done(fn(p));
      return;
    }
    ehx::exchange::v1::PublishReceipt r;
    r.set_message_id("m" + std::to_string(n));
    done(r);
  }

  void Fetch(std::string agency, int max, int lease_seconds,
             Callback<std::vector<ehx::exchange::v1::Delivery>> done) override {
    std::vector<ehx::exchange::v1::Delivery> out;
    {
      std::lock_guard<std::mutex> lock(mu_);
      ++fetches_;
      auto& q = mailbox_[agency];
      while (!q.empty() && static_cast<int>(out.size()) < max) {
        out.push_back(std::move(q.front()));
        q.pop_front();
      }
      cv_.notify_all();
    }
    done(std::move(out));
  }

  void Ack(std::string agency, std::vector<AckItem> items,
           Callback<int> done) override {
    int n = static_cast<int>(items.size());
    {
      std::lock_guard<std::mutex> lock(mu_);
      for (auto& i : items) acks_.push_back(std::move(i));
      cv_.notify_all();
    }
    done(n);
  }

  uint64_t Watch(std::string agency, std::function<void()> wake) override {
    std::lock_guard<std::mutex> lock(mu_);
    const uint64_t token = ++next_token_;
    watchers_[token] = {std::move(agency), std::move(wake)};
    return token;
  }

  void Unwatch(uint64_t token) override {
    std::lock_guard<std::mutex> lock(mu_);
    watchers_.erase(token);
  }

  // Queues `d` for `agency` and (if `wake`) wakes its watchers.
  void Deliver(const std::string& agency, ehx::exchange::v1::Delivery d,
               bool wake = true) {
    std::vector<std::function<void()>> wakes;
    {
      std::lock_guard<std::mutex> lock(mu_);
      mailbox_[agency].push_back(std::move(d));
      for (auto& [token, w] : watchers_) {
        if (wake && w.first == agency) wakes.push_back(w.second);
      }
    }
    for (auto& w : wakes) w();
  }

  // Waits (up to `timeout`) until `pred()` holds under the lock.
  bool WaitUntil(const std::function<bool()>& pred,
                 std::chrono::milliseconds timeout = std::chrono::seconds(10)) {
    std::unique_lock<std::mutex> lock(mu_);
    return cv_.wait_for(lock, timeout, pred);
  }

  std::vector<AckItem> acks() {
    std::lock_guard<std::mutex> lock(mu_);
    return acks_;
  }
  std::vector<Published> published() {
    std::lock_guard<std::mutex> lock(mu_);
    return published_;
  }
  size_t watcher_count() {
    std::lock_guard<std::mutex> lock(mu_);
    return watchers_.size();
  }
  // Raw access for WaitUntil predicates (called with the lock held).
  const std::vector<AckItem>& acks_locked() const { return acks_; }
  const std::vector<Published>& published_locked() const { return published_; }

 private:
  std::mutex mu_;
  std::condition_variable cv_;
  PublishFn publish_fn_;
  std::vector<Published> published_;
  std::vector<AckItem> acks_;
  std::map<std::string, std::deque<ehx::exchange::v1::Delivery>> mailbox_;
  std::map<uint64_t, std::pair<std::string, std::function<void()>>> watchers_;
  uint64_t next_token_ = 0;
  int fetches_ = 0;
};

}  // namespace ehx::testing

#endif  // EHX_TESTS_UNIT_PLUGIN_HOST_FAKE_EXCHANGE_H_
