#include "pg/copy.hpp"

#include "common/error.hpp"

namespace walvault::pg {
namespace {

// Collects the results that end a COPY; throws unless the command succeeded.
void finish(const Connection& conn, const std::string& what) {
  bool ok = true;
  std::string error;
  while (PGresult* raw = libpq().PQgetResult(conn.get())) {
    const Result res(raw);
    if (res.status() != PGRES_COMMAND_OK) {
      ok = false;
      error = libpq().PQresultErrorMessage(raw);
    }
  }
  if (!ok) {
    while (!error.empty() && (error.back() == '\n' || error.back() == ' ')) error.pop_back();
    throw Error(ErrorCode::kConnection, what + " failed: " + error);
  }
}

}  // namespace

uint64_t copy_rows(const Connection& from, const std::string& copy_out, const Connection& to,
                   const std::string& copy_in) {
  const Libpq& pq = libpq();
  {
    const Result out(pq.PQexec(from.get(), copy_out.c_str()));
    if (out.status() != PGRES_COPY_OUT) from.fail("COPY TO STDOUT");
  }
  {
    const Result in(pq.PQexec(to.get(), copy_in.c_str()));
    if (in.status() != PGRES_COPY_IN) {
      while (true) {  // drain the other side's COPY, so its connection stays usable for the error's report
        char* buf = nullptr;
        const int n = pq.PQgetCopyData(from.get(), &buf, 0);
        if (buf != nullptr) pq.PQfreemem(buf);
        if (n < 0) break;
      }
      finish(from, "COPY TO STDOUT");
      to.fail("COPY FROM STDIN");
    }
  }
  uint64_t rows = 0;
  std::string failure;
  while (true) {
    char* buf = nullptr;
    const int n = pq.PQgetCopyData(from.get(), &buf, 0);
    if (n == -1) break;
    if (n < 0) {
      failure = "reading rows: " + from.error_message();
      break;
    }
    const int put = pq.PQputCopyData(to.get(), buf, n);
    pq.PQfreemem(buf);
    if (put != 1) {
      failure = "writing rows: " + to.error_message();
      break;
    }
    ++rows;
  }
  if (!failure.empty()) {
    (void)pq.PQputCopyEnd(to.get(), "walvault: the source of the rows failed");
    throw Error(ErrorCode::kConnection, "COPY between servers failed " + failure);
  }
  finish(from, "COPY TO STDOUT");
  if (pq.PQputCopyEnd(to.get(), nullptr) != 1) to.fail("COPY FROM STDIN");
  finish(to, "COPY FROM STDIN");
  return rows;
}

}  // namespace walvault::pg
