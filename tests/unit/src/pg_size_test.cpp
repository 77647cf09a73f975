#include <catch2/catch.hpp>

#include "pg/connection.hpp"

using walvault::pg::parse_size_with_unit;

TEST_CASE("GUC sizes with units parse to bytes", "[pg]") {
  CHECK(parse_size_with_unit("16MB") == 16ULL << 20);
  CHECK(parse_size_with_unit("1GB") == 1ULL << 30);
  CHECK(parse_size_with_unit("512kB") == 512ULL << 10);
  CHECK_FALSE(parse_size_with_unit("MB").has_value());
  CHECK_FALSE(parse_size_with_unit("16 MB").has_value());
  CHECK_FALSE(parse_size_with_unit("16XB").has_value());
}
