#include "config/config_loader.h"

#include <fstream>
#include <set>
#include <sstream>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "config/yaml_proto.h"
#include "crypto/aead.h"
#include "ehx/exchange/v1/envelope.pb.h"
#include "policy/policy_validate.h"

namespace ehx::config {
namespace {

namespace fs = std::filesystem;
using ehx::config::v1::GatewayConfig;

void Absolutize(const fs::path& base, std::string* p) {
  if (p->empty()) return;
  fs::path path(*p);
  if (path.is_relative()) *p = (base / path).lexically_normal().string();
}

bool ValidAgencyId(const std::string& id) {
  if (id.empty() || id.size() > 64) return false;
  for (char c : id) {
    if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-')) {
      return false;
    }
  }
  return true;
}

bool IsLoopback(const std::string& addr) {
  return absl::StartsWith(addr, "127.") || absl::StartsWith(addr, "[::1]") ||
         absl::StartsWith(addr, "localhost:");
}

absl::Status Bad(const std::string& path, absl::string_view what) {
  return absl::InvalidArgumentError(absl::StrCat(path, ": ", what));
}

}  // namespace

absl::Status ValidateConfig(const GatewayConfig& c) {
  if (c.listen().empty()) return Bad("listen", "required");
  if (c.dev_plaintext()) {
    if (!IsLoopback(c.listen())) {
      return Bad("listen", "dev_plaintext is allowed on loopback only");
    }
    if (!c.admin_listen().empty() && !IsLoopback(c.admin_listen())) {
      return Bad("admin_listen", "dev_plaintext is allowed on loopback only");
    }
  } else {
    const std::pair<const char*, const std::string*> files[] = {
        {"tls.ca_file", &c.tls().ca_file()},
        {"tls.cert_file", &c.tls().cert_file()},
        {"tls.key_file", &c.tls().key_file()}};
    for (const auto& [name, value] : files) {
      if (value->empty()) return Bad(name, "required unless dev_plaintext");
      std::error_code ec;
      if (!fs::is_regular_file(*value, ec)) {
        return Bad(name, absl::StrCat("file not found: ", *value));
      }
    }
    if (c.tls().refresh_interval_seconds() < 0) {
      return Bad("tls.refresh_interval_seconds", "must be >= 0");
    }
    // A configured CRL that is missing is not refused here: the gateway
    // starts and refuses every handshake until it appears (fail closed,
    // logged), so a late CRL delivery does not stop the service from
    // coming up. A CRL folder must at least be a folder.
    std::error_code ec;
    if (!c.tls().crl_dir().empty() && fs::exists(c.tls().crl_dir(), ec) &&
        !fs::is_directory(c.tls().crl_dir(), ec)) {
      return Bad("tls.crl_dir", "not a folder");
    }
  }
  if (c.store().sqlite_path().empty())
    return Bad("store.sqlite_path", "required");
  if (c.store().max_batch() < 0) return Bad("store.max_batch", "must be >= 0");
  {
    const auto& enc = c.store().encryption();
    std::set<std::string> ids;
    for (int i = 0; i < enc.keys_size(); ++i) {
      const auto& k = enc.keys(i);
      const std::string path = absl::StrCat("store.encryption.keys[", i, "]");
      if (!crypto::ValidKeyId(k.key_id())) {
        return Bad(path + ".key_id",
                   "must be 1-32 characters of letters, digits, '.', '_', '-'");
      }
      if (!ids.insert(k.key_id()).second) {
        return Bad(path + ".key_id", "duplicate key id");
      }
      if (k.key_file().empty() == k.key_env().empty()) {
        return Bad(path, "exactly one of key_file and key_env is required");
      }
    }
    if (!enc.active_key_id().empty() && !enc.keys().empty() &&
        !ids.count(enc.active_key_id())) {
      return Bad("store.encryption.active_key_id", "names no key in keys");
    }
    if (enc.keys_size() > 1 && enc.active_key_id().empty()) {
      return Bad("store.encryption.active_key_id",
                 "required when more than one key is listed");
    }
  }
  {
    const auto* events = ehx::exchange::v1::EventType_descriptor();
    std::set<std::string> types;
    for (int i = 0; i < c.retention().rules_size(); ++i) {
      const auto& r = c.retention().rules(i);
      const std::string path = absl::StrCat("retention.rules[", i, "]");
      const auto* ev = events->FindValueByName(r.event_type());
      if (ev == nullptr || ev->number() == 0) {
        return Bad(path + ".event_type", "unknown event type");
      }
      if (!types.insert(r.event_type()).second) {
        return Bad(path + ".event_type", "duplicate rule for this event type");
      }
      if (r.retain_seconds() <= 0) {
        return Bad(path + ".retain_seconds", "must be > 0");
      }
    }
    if (c.retention().purge_interval_seconds() < 0) {
      return Bad("retention.purge_interval_seconds", "must be >= 0");
    }
  }
  std::set<std::string> agencies;
  for (int i = 0; i < c.agencies_size(); ++i) {
    const auto& a = c.agencies(i);
    const std::string path = absl::StrCat("agencies[", i, "]");
    if (!ValidAgencyId(a.id())) {
      return Bad(path + ".id",
                 "must be 1-64 characters of lower-case letters, digits, '-'");
    }
    if (!agencies.insert(a.id()).second) {
      return Bad(path + ".id", "duplicate agency id");
    }
    if (a.role() == ehx::config::v1::AGENCY_ROLE_UNSPECIFIED) {
      return Bad(path + ".role", "required");
    }
    if (a.publish_rate_per_second() < 0) {
      return Bad(path + ".publish_rate_per_second", "must be >= 0");
    }
    if (a.publish_burst() < 0)
      return Bad(path + ".publish_burst", "must be >= 0");
    if (a.max_queued() < 0) return Bad(path + ".max_queued", "must be >= 0");
  }
  const auto* event_enum = ehx::exchange::v1::EventType_descriptor();
  for (int i = 0; i < c.routes_size(); ++i) {
    const auto& r = c.routes(i);
    const std::string path = absl::StrCat("routes[", i, "]");
    const auto* ev = event_enum->FindValueByName(r.event_type());
    if (ev == nullptr || ev->number() == 0) {
      return Bad(path + ".event_type", "unknown event type");
    }
    for (int j = 0; j < r.to_size(); ++j) {
      if (!agencies.count(r.to(j))) {
        return Bad(absl::StrCat(path, ".to[", j, "]"), "unknown agency");
      }
    }
    for (int j = 0; j < r.to_selectors_size(); ++j) {
      if (r.to_selectors(j) ==
          ehx::config::v1::RECIPIENT_SELECTOR_UNSPECIFIED) {
        return Bad(absl::StrCat(path, ".to_selectors[", j, "]"), "required");
      }
    }
    if (r.ttl_seconds() < 0) return Bad(path + ".ttl_seconds", "must be >= 0");
  }
  const auto& d = c.delivery();
  if (d.max_attempts() < 0 || d.initial_backoff_ms() < 0 ||
      d.max_backoff_ms() < 0 || d.lease_seconds() < 0 ||
      d.default_ttl_seconds() < 0 || d.sweep_interval_ms() < 0) {
    return Bad("delivery", "values must be >= 0");
  }
  std::set<std::string> plugin_names;
  for (int i = 0; i < c.plugins_size(); ++i) {
    const auto& p = c.plugins(i);
    const std::string path = absl::StrCat("plugins[", i, "]");
    if (p.name().empty()) return Bad(path + ".name", "required");
    if (!plugin_names.insert(p.name()).second) {
      return Bad(path + ".name", "duplicate plugin name");
    }
    if (p.path().empty()) return Bad(path + ".path", "required");
    if (!agencies.count(p.agency()))
      return Bad(path + ".agency", "unknown agency");
  }
  for (int i = 0; i < c.operators_size(); ++i) {
    if (!ValidAgencyId(c.operators(i))) {
      return Bad(absl::StrCat("operators[", i, "]"), "invalid id");
    }
  }
  // The sharing policy (a missing section is allowed here: the engine then
  // fails closed and alerts).
  absl::Status policy = ehx::policy::ValidateSharingPolicy(c);
  if (!policy.ok()) return policy;
  return absl::OkStatus();
}

absl::StatusOr<GatewayConfig> LoadConfigText(const std::string& yaml,
                                             const fs::path& base_dir) {
  YAML::Node root;
  try {
    root = YAML::Load(yaml);
  } catch (const YAML::Exception& e) {
    return absl::InvalidArgumentError(
        absl::StrCat("config: YAML syntax error at line ", e.mark.line + 1,
                     ", column ", e.mark.column + 1, ": ", e.msg));
  }
  GatewayConfig c;
  absl::Status st;
  try {
    st = YamlToMessage(root, "", &c);
  } catch (const YAML::Exception& e) {
    st = absl::InvalidArgumentError(absl::StrCat("config: ", e.what()));
  }
  if (!st.ok()) {
    return absl::InvalidArgumentError(absl::StrCat("config: ", st.message()));
  }
  Absolutize(base_dir, c.mutable_tls()->mutable_ca_file());
  Absolutize(base_dir, c.mutable_tls()->mutable_cert_file());
  Absolutize(base_dir, c.mutable_tls()->mutable_key_file());
  Absolutize(base_dir, c.mutable_tls()->mutable_crl_dir());
  Absolutize(base_dir, c.mutable_tls()->mutable_crl_file());
  Absolutize(base_dir, c.mutable_store()->mutable_sqlite_path());
  Absolutize(base_dir, c.mutable_port_file());
  Absolutize(base_dir, c.mutable_audit()->mutable_signing_key_file());
  for (auto& k : *c.mutable_store()->mutable_encryption()->mutable_keys()) {
    Absolutize(base_dir, k.mutable_key_file());
  }
  for (auto& p : *c.mutable_plugins()) Absolutize(base_dir, p.mutable_path());
  st = ValidateConfig(c);
  if (!st.ok()) {
    return absl::InvalidArgumentError(absl::StrCat("config: ", st.message()));
  }
  return c;
}

absl::StatusOr<GatewayConfig> LoadConfigFile(const fs::path& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    return absl::NotFoundError(
        absl::StrCat("config: cannot read ", path.string()));
  }
  std::stringstream ss;
  ss << in.rdbuf();
  return LoadConfigText(ss.str(), fs::absolute(path).parent_path());
}

}  // namespace ehx::config
