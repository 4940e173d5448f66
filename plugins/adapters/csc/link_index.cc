#include "link_index.h"

#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <fstream>
#include <nlohmann/json.hpp>

#include "csc_util.h"

namespace ehx::adapters::csc {

using Json = nlohmann::json;

std::vector<std::string> LinkableIdHashes(
    const ehxpb::cases::v1::Person& person) {
  std::vector<std::string> out;
  for (const auto& id : person.identifiers()) {
    const std::string& v = id.value();
    if (v.empty()) continue;
    if (id.verification() == ehxpb::cases::v1::VERIFICATION_STATUS_INVALID ||
        id.verification() == ehxpb::cases::v1::VERIFICATION_STATUS_TEMPORARY) {
      continue;
    }
    if (id.system() == kNhsSystem || id.system() == kLegacyNhsSystem) {
      if (CheckNhsNumber(v) == NhsCheck::kValid) {
        out.push_back(StableHash({kNhsSystem, v}));
      }
    } else if (id.system() == kUpnSystem) {
      if (CheckUpn(v) == UpnCheck::kValidPermanent) {
        out.push_back(StableHash({kUpnSystem, v}));
      }
    } else if (id.system() == kLaChildIdSystem) {
      if (ValidLaChildId(v)) out.push_back(StableHash({kLaChildIdSystem, v}));
    }
  }
  return out;
}

namespace {

std::string Str(const Json& j, const char* key) {
  auto it = j.find(key);
  return it != j.end() && it->is_string() ? it->get<std::string>()
                                          : std::string();
}

std::string ToLine(const LinkEntry& e) {
  Json j = {{"referral_id", e.referral_id},       {"message_id", e.message_id},
            {"correlation_id", e.correlation_id}, {"case_ref", e.case_ref},
            {"referred_on", e.referred_on},       {"id_hashes", e.id_hashes}};
  return j.dump(-1, ' ', true, Json::error_handler_t::replace) + "\n";
}

}  // namespace

bool LinkIndex::Open(const std::string& path, std::string* error) {
  std::lock_guard<std::mutex> lock(mu_);
  path_ = path;
  std::ifstream in(path);
  if (in) {
    std::string line;
    while (std::getline(in, line)) {
      if (line.empty()) continue;
      Json j = Json::parse(line, nullptr, /*allow_exceptions=*/false);
      if (j.is_discarded() || !j.is_object()) {
        ++skipped_;  // e.g. a torn last line after a crash
        continue;
      }
      LinkEntry e;
      e.referral_id = Str(j, "referral_id");
      e.message_id = Str(j, "message_id");
      e.correlation_id = Str(j, "correlation_id");
      e.case_ref = Str(j, "case_ref");
      e.referred_on = Str(j, "referred_on");
      auto ids = j.find("id_hashes");
      if (ids != j.end() && ids->is_array()) {
        for (const auto& h : *ids) {
          if (h.is_string()) e.id_hashes.push_back(h.get<std::string>());
        }
      }
      for (const auto& h : e.id_hashes) by_id_.emplace(h, entries_.size());
      by_referral_[e.referral_id] = entries_.size();
      entries_.push_back(std::move(e));
    }
  }
  const int fd =
      ::open(path.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0640);
  if (fd < 0) {
    *error = std::string("cannot open the link index: ") + std::strerror(errno);
    return false;
  }
  ::close(fd);
  return true;
}

bool LinkIndex::Add(const LinkEntry& entry, std::string* error) {
  std::lock_guard<std::mutex> lock(mu_);
  {
    auto it = by_referral_.find(entry.referral_id);
    if (it != by_referral_.end()) {
      for (const LinkEntry& e : entries_) {
        if (e.referral_id == entry.referral_id &&
            e.message_id == entry.message_id) {
          return true;  // redelivery: already known
        }
      }
    }
  }
  if (!path_.empty()) {
    const std::string line = ToLine(entry);
    const int fd =
        ::open(path_.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0640);
    if (fd < 0) {
      *error =
          std::string("cannot open the link index: ") + std::strerror(errno);
      return false;
    }
    size_t done = 0;
    while (done < line.size()) {
      const ssize_t n = ::write(fd, line.data() + done, line.size() - done);
      if (n < 0 && errno == EINTR) continue;
      if (n <= 0) {
        *error =
            std::string("link index write failed: ") + std::strerror(errno);
        ::close(fd);
        return false;
      }
      done += static_cast<size_t>(n);
    }
    if (::fsync(fd) != 0) {
      *error = std::string("link index fsync failed: ") + std::strerror(errno);
      ::close(fd);
      return false;
    }
    ::close(fd);
  }
  for (const auto& h : entry.id_hashes) by_id_.emplace(h, entries_.size());
  by_referral_[entry.referral_id] = entries_.size();
  entries_.push_back(entry);
  return true;
}

std::optional<LinkEntry> LinkIndex::ByReferralId(
    const std::string& referral_id) const {
  std::lock_guard<std::mutex> lock(mu_);
  auto it = by_referral_.find(referral_id);
  if (it == by_referral_.end()) return std::nullopt;
  return entries_[it->second];
}

std::vector<LinkEntry> LinkIndex::ByIdentifiers(
    const std::vector<std::string>& id_hashes) const {
  std::lock_guard<std::mutex> lock(mu_);
  std::vector<size_t> hits;
  for (const std::string& q : id_hashes) {
    auto range = by_id_.equal_range(q);
    for (auto it = range.first; it != range.second; ++it) {
      hits.push_back(it->second);
    }
  }
  std::sort(hits.begin(), hits.end());
  hits.erase(std::unique(hits.begin(), hits.end()), hits.end());
  std::vector<LinkEntry> out;
  out.reserve(hits.size());
  for (size_t i : hits) out.push_back(entries_[i]);
  return out;
}

size_t LinkIndex::size() const {
  std::lock_guard<std::mutex> lock(mu_);
  return entries_.size();
}

int LinkIndex::skipped_lines() const {
  std::lock_guard<std::mutex> lock(mu_);
  return skipped_;
}

}  // namespace ehx::adapters::csc
