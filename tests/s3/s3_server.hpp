// Test support for the S3 tests (label s3): the throwaway Ceph radosgw that tests/s3/radosgw.sh starts once per ctest
// run (a CTest fixture; WALVAULT_S3_SERVER_DIR names its directory), a fresh bucket per test, and Debian's awscli
// (/usr/bin/aws) to check independently what walvault wrote. Failures are Catch2 assertions.
#pragma once

#include <cstddef>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "storage/s3_client.hpp"

namespace walvault::test {

// The server started by the fixture. The first call exports the test user's AWS_* variables into this process, so
// the storage takes its credentials from the environment as walvault does, and so do awscli and every walvault
// process the tests start.
struct S3Server {
  std::string dir;  // $WALVAULT_S3_SERVER_DIR
  std::string endpoint;
  std::string access_key;
  std::string secret_key;
};
const S3Server& s3_server();

// Settings that reach bucket on the test server with the test user's credentials, retrying for 10 s.
storage::S3Config s3_config(const std::string& bucket);

// Creates a bucket with a fresh random name and returns the name.
std::string new_bucket();

// /usr/bin/aws s3api ARGS... against the test server, as JSON (an empty object for no output); requires exit 0.
nlohmann::json aws(const std::vector<std::string>& args);

// The multipart uploads the server holds for a bucket (nothing half written may stay behind).
std::size_t pending_uploads(const std::string& bucket);

}  // namespace walvault::test
