// Rows from one server to another with COPY, streamed: nothing is held beyond one row.
#pragma once

#include <cstdint>
#include <string>

#include "pg/connection.hpp"

namespace walvault::pg {

// Runs `copy_out` (COPY ... TO STDOUT) on `from` and `copy_in` (COPY ... FROM STDIN, the same columns and format)
// on `to`, and passes every row across. Returns the rows copied. Throws kConnection with the server's error when
// either side fails; `to`'s COPY is then ended with an error, so nothing of it stays.
uint64_t copy_rows(const Connection& from, const std::string& copy_out, const Connection& to, const std::string& copy_in);

}  // namespace walvault::pg
