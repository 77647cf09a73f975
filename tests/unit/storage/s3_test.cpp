// The pure parts of the S3 backend: SigV4 against AWS's published examples, the XML reader on real and hostile
// bodies, the shared credentials file, addressing, and the wording of errors. The backend itself is tested
// against a real radosgw in tests/s3/.
#include <catch2/catch.hpp>
#include <string>

#include "storage/s3_client.hpp"
#include "storage/s3_signer.hpp"
#include "storage/s3_storage.hpp"
#include "storage/s3_xml.hpp"

namespace {

using walvault::ErrorCode;
using walvault::storage::S3Config;
using walvault::storage::S3Response;
using walvault::storage::SigningKeys;
using walvault::storage::SigningRequest;

constexpr std::string_view kEmptySha256 = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855";

// The credentials of AWS's S3 examples ("Signature Calculations for the Authorization Header") and of the SigV4
// test suite.
const SigningKeys kS3Example{"AKIAIOSFODNN7EXAMPLE", "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"};
const SigningKeys kSuite{"AKIDEXAMPLE", "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY"};

std::string signature_of(const std::string& authorization) {
  return authorization.substr(authorization.rfind("Signature=") + 10);
}

SigningRequest s3_example(std::string method, std::string uri) {
  return SigningRequest{.method = std::move(method),
                        .canonical_uri = std::move(uri),
                        .query = {},
                        .headers = {{"Host", "examplebucket.s3.amazonaws.com"},
                                    {"x-amz-date", "20130524T000000Z"},
                                    {"x-amz-content-sha256", std::string(kEmptySha256)}},
                        .payload_sha256 = std::string(kEmptySha256),
                        .amz_date = "20130524T000000Z",
                        .region = "us-east-1"};
}

SigningRequest suite_example(std::string method) {
  return SigningRequest{.method = std::move(method),
                        .canonical_uri = "/",
                        .query = {},
                        .headers = {{"Host", "example.amazonaws.com"}, {"X-Amz-Date", "20150830T123600Z"}},
                        .payload_sha256 = std::string(kEmptySha256),
                        .amz_date = "20150830T123600Z",
                        .region = "us-east-1",
                        .service = "service"};
}

}  // namespace

TEST_CASE("sigv4: AWS's S3 examples", "[s3]") {
  using walvault::storage::sigv4_authorization;
  SECTION("GET object with a range") {
    SigningRequest r = s3_example("GET", "/test.txt");
    r.headers.emplace_back("Range", "bytes=0-9");
    const std::string authorization = sigv4_authorization(r, kS3Example);
    CHECK(authorization ==
          "AWS4-HMAC-SHA256 Credential=AKIAIOSFODNN7EXAMPLE/20130524/us-east-1/s3/aws4_request, "
          "SignedHeaders=host;range;x-amz-content-sha256;x-amz-date, "
          "Signature=f0e8bdb87c964420e857bd35b5d6ed310bd44f0170aba48dd91039c6036bdb41");
  }
  SECTION("PUT object: the key is URI-encoded, extra headers are signed") {
    const std::string body = "Welcome to Amazon S3.";
    const std::string hash = walvault::storage::sha256_hex(body);
    CHECK(hash == "44ce7dd67c959e0d3524ffac1771dfbba87d2b6b4b4e99e42034a8b803f8b072");
    SigningRequest r = s3_example("PUT", "/" + walvault::storage::uri_encode("test$file.text", true));
    CHECK(r.canonical_uri == "/test%24file.text");
    r.payload_sha256 = hash;
    r.headers = {{"Host", "examplebucket.s3.amazonaws.com"},
                 {"Date", "Fri, 24 May 2013 00:00:00 GMT"},
                 {"x-amz-date", "20130524T000000Z"},
                 {"x-amz-storage-class", "REDUCED_REDUNDANCY"},
                 {"x-amz-content-sha256", hash}};
    CHECK(signature_of(sigv4_authorization(r, kS3Example)) ==
          "98ad721746da40c64f1a55b78f14c238d841ea1380cd77a1b5971af0ece108bd");
  }
  SECTION("list objects: the query is encoded and sorted") {
    SigningRequest r = s3_example("GET", "/");
    r.query = {{"prefix", "J"}, {"max-keys", "2"}};
    CHECK(signature_of(sigv4_authorization(r, kS3Example)) ==
          "34b48302e7b5fa45bde8084f4b7868a86f0a534bc59db6670ed5711ef69dc6f7");
  }
  SECTION("a sub-resource with an empty value") {
    SigningRequest r = s3_example("GET", "/");
    r.query = {{"lifecycle", ""}};
    CHECK(signature_of(sigv4_authorization(r, kS3Example)) ==
          "fea454ca298b7da1c68078a5d1bdbfbbe0d65c699e0f91ac7a200a0136783543");
  }
}

TEST_CASE("sigv4: AWS's test suite", "[s3]") {
  using walvault::storage::sigv4_authorization;
  // get-vanilla, with its published intermediate steps.
  const SigningRequest vanilla = suite_example("GET");
  CHECK(walvault::storage::sigv4_canonical_request(vanilla) ==
        "GET\n/\n\nhost:example.amazonaws.com\nx-amz-date:20150830T123600Z\n\nhost;x-amz-date\n" +
            std::string(kEmptySha256));
  CHECK(walvault::storage::sigv4_string_to_sign(vanilla) ==
        "AWS4-HMAC-SHA256\n20150830T123600Z\n20150830/us-east-1/service/aws4_request\n"
        "bb579772317eb040ac9ed261061d46c1f17a8133879d6129b6e1c25292927e63");
  CHECK(sigv4_authorization(vanilla, kSuite) ==
        "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20150830/us-east-1/service/aws4_request, "
        "SignedHeaders=host;x-amz-date, "
        "Signature=5fa00fa31553b73ebf1942676e86291e8372ff2a2260956d9b8aae1d763fbf31");
  // get-vanilla-query-order-key-case
  SigningRequest ordered = suite_example("GET");
  ordered.query = {{"Param2", "value2"}, {"Param1", "value1"}};
  CHECK(signature_of(sigv4_authorization(ordered, kSuite)) ==
        "b97d918cfa904a5beff61c982a1b6f458b799221646efd99d3219ec94cdf2500");
  // post-vanilla
  CHECK(signature_of(sigv4_authorization(suite_example("POST"), kSuite)) ==
        "5da7c1a2acd57cee7505fc6676e4e544621c30862966e37dddb68e92efbe5d6b");
}

TEST_CASE("sigv4: URI encoding", "[s3]") {
  using walvault::storage::uri_encode;
  CHECK(uri_encode("wal/000000010000000000000004.wvs", true) == "wal/000000010000000000000004.wvs");
  CHECK(uri_encode("a b/c+d=é~_-.", true) == "a%20b/c%2Bd%3D%C3%A9~_-.");
  CHECK(uri_encode("a/b", false) == "a%2Fb");
  CHECK(walvault::storage::canonical_query({{"uploads", ""}, {"b", "x y"}, {"a", "2"}}) == "a=2&b=x%20y&uploads=");
}

TEST_CASE("s3 xml: ListObjectsV2, errors, and garbage", "[s3]") {
  using walvault::storage::xml_elements;
  using walvault::storage::xml_text;
  const std::string list =
      R"(<?xml version="1.0" encoding="UTF-8"?><ListBucketResult xmlns="http://s3.amazonaws.com/doc/2006-03-01/">)"
      R"(<Name>b</Name><Prefix>p/</Prefix><KeyCount>2</KeyCount><IsTruncated>true</IsTruncated>)"
      R"(<NextContinuationToken>1ueGcxLPRx1Tr/XYExHnhbYLgveDs2J/wm36Hy4vbOwM=</NextContinuationToken>)"
      R"(<Contents><Key>p/a&amp;b</Key><Size>5</Size><ETag>&quot;abc&quot;</ETag></Contents>)"
      R"(<Contents><Key>p/c&#x41;&#66;</Key><Size>0</Size></Contents></ListBucketResult>)";
  const auto contents = xml_elements(list, "Contents");
  REQUIRE(contents.size() == 2);
  CHECK(xml_text(contents[0], "Key") == "p/a&b");
  CHECK(xml_text(contents[0], "ETag") == "\"abc\"");
  CHECK(xml_text(contents[1], "Key") == "p/cAB");
  CHECK(xml_text(list, "IsTruncated") == "true");
  CHECK(xml_text(list, "NextContinuationToken") == "1ueGcxLPRx1Tr/XYExHnhbYLgveDs2J/wm36Hy4vbOwM=");
  CHECK(xml_text(list, "Name") == "b");  // not confused with NextContinuationToken or KeyCount
  CHECK_FALSE(xml_text(list, "Missing").has_value());
  CHECK(xml_text("<a><Message/></a>", "Message") == "");
  CHECK(xml_text("<a>&bogus; &#0; &#xZZ; &amp</a>", "a") == "&bogus; &#0; &#xZZ; &amp");

  for (const char* garbage : {"", "<", "<Key", "<Key>", "<Key>x</Ke", "</Key><Key>", "<Key/", "<Contents><Contents>",
                              "&#99999999999;", "<Key>&#x110000;</Key>"}) {
    INFO(garbage);
    CHECK_NOTHROW(xml_elements(garbage, "Contents"));
    CHECK_NOTHROW(xml_text(garbage, "Key"));
  }
  CHECK(walvault::storage::xml_escape("\"e&t<a>g'") == "&quot;e&amp;t&lt;a&gt;g&apos;");
}

TEST_CASE("s3 credentials: the shared credentials file", "[s3]") {
  using walvault::storage::parse_shared_credentials;
  const std::string text =
      "# comment\n[default]\naws_access_key_id = AKIADEFAULT\naws_secret_access_key=secret1\n\n"
      "[backup] \n; comment\n  aws_access_key_id=AKIABACKUP  \nAWS_SECRET_ACCESS_KEY = secret2\n"
      "aws_session_token = token2\n[partial]\naws_access_key_id=only\n";
  const auto def = parse_shared_credentials(text, "default");
  REQUIRE(def);
  CHECK(def->access_key_id == "AKIADEFAULT");
  CHECK(def->secret_access_key == "secret1");
  CHECK(def->session_token.empty());
  const auto backup = parse_shared_credentials(text, "backup");
  REQUIRE(backup);
  CHECK(backup->access_key_id == "AKIABACKUP");
  CHECK(backup->secret_access_key == "secret2");
  CHECK(backup->session_token == "token2");
  CHECK_FALSE(parse_shared_credentials(text, "partial"));
  CHECK_FALSE(parse_shared_credentials(text, "missing"));
  CHECK_FALSE(parse_shared_credentials("[default", "default"));
}

TEST_CASE("s3 addressing: path style for IP addresses and localhost", "[s3]") {
  const auto path_style = [](std::string endpoint, std::optional<bool> forced = std::nullopt) {
    S3Config config;
    config.endpoint = std::move(endpoint);
    config.path_style = forced;
    return walvault::storage::s3_path_style(config);
  };
  CHECK(path_style("http://127.0.0.1:7480"));
  CHECK(path_style("http://localhost:9000/"));
  CHECK(path_style("http://[::1]:9000"));
  CHECK_FALSE(path_style("https://s3.eu-west-1.amazonaws.com"));
  CHECK_FALSE(path_style("https://10.0.0.1.nip.io"));
  CHECK(path_style("https://minio.example.com", true));
  CHECK_FALSE(path_style("http://127.0.0.1:7480", false));
}

TEST_CASE("s3 errors: one line naming the operation, the bucket and the object, with a hint", "[s3]") {
  S3Config config;
  config.endpoint = "http://127.0.0.1:7480";
  config.bucket = "backups";
  config.credentials = {"AKIAVISIBLE", "the-secret-key", "the-session-token"};
  const auto error_for = [&](long status, std::string body) {
    S3Response response;
    response.status = status;
    const auto bytes = std::as_bytes(std::span(body.data(), body.size()));
    response.body.assign(bytes.begin(), bytes.end());
    return walvault::storage::s3_response_error(config, "PutObject", "db1/wal/a", response);
  };
  // radosgw sends an empty <Message>.
  const auto denied = error_for(403, "<Error><Code>SignatureDoesNotMatch</Code><Message></Message></Error>");
  CHECK(std::string(denied.what()) == "s3 PutObject of s3://backups/db1/wal/a failed: HTTP 403 SignatureDoesNotMatch");
  CHECK_THAT(denied.hint(), Catch::Contains("InvalidAccessKeyId/SignatureDoesNotMatch"));
  CHECK(denied.code() == ErrorCode::kIo);
  CHECK_FALSE(denied.retryable());
  for (const auto& e : {denied, error_for(404, "<Error><Code>NoSuchBucket</Code></Error>")}) {
    for (const char* secret : {"the-secret-key", "the-session-token"}) {
      CHECK_THAT(std::string(e.what()) + e.hint(), !Catch::Contains(secret));
    }
  }
  const auto bucket = error_for(404, "<Error><Code>NoSuchBucket</Code><Message>gone\nreally</Message></Error>");
  CHECK(std::string(bucket.what()) ==
        "s3 PutObject of s3://backups/db1/wal/a failed: HTTP 404 NoSuchBucket: gone really");
  CHECK_THAT(bucket.hint(), Catch::Contains("bucket backups does not exist at http://127.0.0.1:7480"));
  CHECK_THAT(error_for(403, "").hint(), Catch::Contains("may not PutObject in bucket backups"));  // HEAD: no body
  CHECK(error_for(503, "<Error><Code>SlowDown</Code></Error>").retryable());
  CHECK(error_for(500, "not xml").retryable());
}

TEST_CASE("s3 storage: invalid endpoints and settings are refused before any request", "[s3]") {
  const auto code = [](S3Config config) {
    try {
      walvault::storage::S3Storage storage(std::move(config));
    } catch (const walvault::Error& e) {
      return e.code();
    }
    return ErrorCode::kInternal;
  };
  S3Config good;
  good.endpoint = "http://127.0.0.1:7480";
  good.bucket = "b";
  CHECK_NOTHROW(walvault::storage::S3Storage(good));
  for (const char* endpoint : {"", "127.0.0.1:7480", "ftp://host", "http://"}) {
    INFO(endpoint);
    S3Config bad = good;
    bad.endpoint = endpoint;
    CHECK(code(bad) == ErrorCode::kUsage);
  }
  S3Config small_parts = good;
  small_parts.part_size = 1 << 20;
  CHECK(code(small_parts) == ErrorCode::kUsage);
  S3Config short_lease = good;
  short_lease.lease_duration = std::chrono::seconds(1);
  CHECK(code(short_lease) == ErrorCode::kUsage);
}

TEST_CASE("s3 storage: parts grow so that very large objects fit in S3's 10000 parts", "[s3]") {
  using walvault::storage::s3_part_size;
  constexpr uint64_t kMiB = 1 << 20;
  CHECK(s3_part_size(8 * kMiB, 1) == 8 * kMiB);
  CHECK(s3_part_size(8 * kMiB, 2000) == 8 * kMiB);
  CHECK(s3_part_size(8 * kMiB, 2001) == 16 * kMiB);
  CHECK(s3_part_size(8 * kMiB, 8001) == 128 * kMiB);
  CHECK(s3_part_size(8 * kMiB, walvault::storage::kS3MaxParts) == 128 * kMiB);  // memory: at most 16 parts' worth
  uint64_t total = 0;
  for (uint64_t part = 1; part <= walvault::storage::kS3MaxParts; ++part) total += s3_part_size(8 * kMiB, part);
  CHECK(total == 31 * 2000 * 8 * kMiB);  // about 520 GB
}
