// ehx-gateway: the early help exchange gateway.
#include <signal.h>

#include <CLI/CLI.hpp>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <thread>

#include "common/logging.h"
#include "config/config_loader.h"
#include "pipeline/gateway_core.h"
#include "plugin_host/plugin_host.h"
#include "server/server.h"

namespace {

std::atomic<bool> g_stop{false};
void OnSignal(int) { g_stop = true; }

int Run(const std::string& config_path) {
  auto config = ehx::config::LoadConfigFile(config_path);
  if (!config.ok()) {
    SPDLOG_ERROR("{}", std::string(config.status().message()));
    return 2;
  }
  auto core = ehx::pipeline::GatewayCore::Create(*config);
  if (!core.ok()) {
    SPDLOG_ERROR("store: {}", std::string(core.status().message()));
    return 3;
  }
  auto server = ehx::server::GatewayServer::Start(*config, core->get());
  if (!server.ok()) {
    SPDLOG_ERROR("{}", std::string(server.status().message()));
    return 3;
  }
  const auto config_dir = std::filesystem::absolute(config_path).parent_path();
  auto plugins = ehx::PluginHost::Start(*config, config_dir, core->get());
  if (!plugins.ok()) {
    SPDLOG_ERROR("plugins: {}", std::string(plugins.status().message()));
    (*server)->Shutdown();
    return 3;
  }
  SPDLOG_INFO(
      "ehx-gateway serving: exchange port {}, admin port {}, {} agencies, {} "
      "plugins",
      (*server)->exchange_port(), (*server)->admin_port(),
      config->agencies_size(), config->plugins_size());
  if (!config->port_file().empty()) {
    const std::string tmp = config->port_file() + ".tmp";
    {
      std::ofstream out(tmp, std::ios::trunc);
      out << "exchange=" << (*server)->exchange_port() << "\n"
          << "admin=" << (*server)->admin_port() << "\n";
    }
    std::filesystem::rename(tmp, config->port_file());
  }
  while (!g_stop) std::this_thread::sleep_for(std::chrono::milliseconds(100));
  SPDLOG_INFO("shutting down");
  (*plugins)->Stop();
  (*server)->Shutdown();
  (*core)->Shutdown();
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"ehx-gateway: the early help exchange gateway"};
  std::string config_path, check_path, log_level = "info";
  app.add_option("--config", config_path, "gateway YAML config file");
  app.add_option("--check-config", check_path,
                 "validate a config file and exit (0 = valid)");
  app.add_option("--log-level", log_level, "trace|debug|info|warn|error")
      ->capture_default_str();
  CLI11_PARSE(app, argc, argv);
  ehx::InitLogging(log_level);
  // Before any gRPC object exists: gRPC reads it once.
  ehx::server::PinTlsCipherSuites();
  if (!check_path.empty()) {
    auto config = ehx::config::LoadConfigFile(check_path);
    if (!config.ok()) {
      std::fprintf(stderr, "%s\n",
                   std::string(config.status().message()).c_str());
      return 2;
    }
    // The plugins too: each shared object, its handshake and its config
    // against the plugin's own schema (nothing is created or started).
    const auto check_dir = std::filesystem::absolute(check_path).parent_path();
    auto warnings = ehx::PluginHost::CheckConfig(*config, check_dir);
    if (!warnings.ok()) {
      std::fprintf(stderr, "%s\n",
                   std::string(warnings.status().message()).c_str());
      return 2;
    }
    for (const std::string& w : *warnings) {
      std::fprintf(stderr, "WARNING: %s\n", w.c_str());
    }
    std::printf("config OK: %d agencies, %d routes, %d plugins%s\n",
                config->agencies_size(), config->routes_size(),
                config->plugins_size(),
                warnings->empty()
                    ? ""
                    : (", " + std::to_string(warnings->size()) + " warning(s)")
                          .c_str());
    return 0;
  }
  if (config_path.empty()) {
    std::fprintf(stderr, "--config FILE is required (see --help)\n");
    return 2;
  }
  signal(SIGINT, OnSignal);
  signal(SIGTERM, OnSignal);
  signal(SIGPIPE, SIG_IGN);
  return Run(config_path);
}
