#include "s3_server.hpp"

#include <catch2/catch.hpp>
#include <cstdlib>
#include <fstream>
#include <random>
#include <sstream>

#include "common/process.hpp"

namespace walvault::test {
namespace {

std::string file_text(const std::string& path) {
  std::ifstream in(path);
  std::stringstream text;
  text << in.rdbuf();
  return text.str();
}

}  // namespace

const S3Server& s3_server() {
  static const S3Server instance = [] {
    const char* dir = std::getenv("WALVAULT_S3_SERVER_DIR");
    if (dir == nullptr) FAIL("WALVAULT_S3_SERVER_DIR is not set: run these tests through ctest (radosgw fixture)");
    S3Server s;
    s.dir = dir;
    std::istringstream endpoint(file_text(s.dir + "/endpoint"));
    endpoint >> s.endpoint;
    if (s.endpoint.empty()) FAIL("no radosgw endpoint in " << dir << "/endpoint: did 's3: start radosgw' fail?");
    std::istringstream env(file_text(s.dir + "/env"));
    for (std::string line; std::getline(env, line);) {
      if (!line.starts_with("export ")) continue;
      const auto equals = line.find('=');
      const std::string name = line.substr(7, equals - 7);
      const std::string value = line.substr(equals + 1);
      ::setenv(name.c_str(), value.c_str(), 1);
      if (name == "AWS_ACCESS_KEY_ID") s.access_key = value;
      if (name == "AWS_SECRET_ACCESS_KEY") s.secret_key = value;
    }
    return s;
  }();
  return instance;
}

storage::S3Config s3_config(const std::string& bucket) {
  storage::S3Config config;
  config.endpoint = s3_server().endpoint;
  config.bucket = bucket;
  config.credentials = storage::s3_credentials_from_environment();
  config.retry.total = std::chrono::seconds(10);
  return config;
}

std::string new_bucket() {
  static std::mt19937_64 random{std::random_device{}()};
  const std::string name = "walvault-" + std::to_string(random() % 1'000'000'000'000ULL);
  const storage::S3Client client(s3_config(name));
  const storage::S3Request create{.operation = "CreateBucket", .method = "PUT", .key = ""};
  const auto response = client.send(create);
  if (response.status != 200) FAIL(client.error(create, response).what());
  return name;
}

nlohmann::json aws(const std::vector<std::string>& args) {
  std::vector<std::string> argv{"/usr/bin/aws", "--endpoint-url", s3_server().endpoint, "--output", "json", "s3api"};
  argv.insert(argv.end(), args.begin(), args.end());
  const auto result = run_program(argv, 16 << 20);
  INFO(result.output);
  REQUIRE(result.exit_code == 0);
  if (result.output.find_first_not_of(" \n") == std::string::npos) return nlohmann::json::object();
  return nlohmann::json::parse(result.output);
}

std::size_t pending_uploads(const std::string& bucket) {
  const auto listed = aws({"list-multipart-uploads", "--bucket", bucket});
  return listed.contains("Uploads") ? listed["Uploads"].size() : 0;
}

}  // namespace walvault::test
