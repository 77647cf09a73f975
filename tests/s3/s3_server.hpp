// The S3 server of the s3 tests: the throwaway Ceph radosgw that tests/s3/radosgw.sh starts once per ctest run (a
// CTest fixture; WALVAULT_S3_SERVER_DIR names its directory), a bucket per test case, and Debian's awscli
// (/usr/bin/aws) to check independently what walvault wrote. Failures are Catch2 failures.
#pragma once

#include <cstddef>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "storage/s3_client.hpp"

namespace walvault::test {

// The server started by the fixture: its endpoint, with the test user's AWS_* variables exported into this
// process (so the storage takes its credentials from the environment, as walvault does, and so does awscli, and
// so do the walvault processes a test starts).
struct S3Server {
  std::string endpoint;
  std::string access_key;
  std::string secret_key;
};
const S3Server& s3_server();

// The configuration of a storage on bucket, prefix "repo/", with small parts (5 MiB, S3's minimum, to keep
// multipart objects and memstore's RAM small) and 10 s of retries.
[[nodiscard]] storage::S3Config s3_config_for(const std::string& bucket);

// Creates a new bucket with a random name and returns the name.
[[nodiscard]] std::string new_bucket();

// /usr/bin/aws s3api ARGS... against the test server, as JSON (an empty object for no output).
nlohmann::json aws(std::vector<std::string> args);

// The multipart uploads the server holds for a bucket (nothing half written may stay behind).
[[nodiscard]] std::size_t pending_uploads(const std::string& bucket);

}  // namespace walvault::test
