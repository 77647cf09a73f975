// libpq, loaded on first use instead of at process start.
//
// Only the commands that talk to PostgreSQL need libpq. `walvault wal-fetch` does not, and PostgreSQL runs it
// once per 16 MB segment during a restore, so its start-up time is paid between every two segments of redo.
// Loading libpq and its dependencies (Kerberos, LDAP, GnuTLS, OpenSSL, SASL) took 4 of the 6.5 ms a walvault
// process needed to start on the benchmark machine. So the binary does not link libpq: libpq() dlopen()s
// libpq.so.5 (its ABI has been stable since PostgreSQL 8.x; <libpq-fe.h> still provides types and prototypes)
// and resolves the functions walvault calls, once per process.
//
// Lifetime: the table lives until the process exits. Errors: throws walvault::Error (kConnection) with a hint
// when the library or one of its functions cannot be loaded.
#pragma once

#include <libpq-fe.h>

namespace walvault::pg {

// Every libpq function walvault calls. A new call site adds its function here.
#define WALVAULT_LIBPQ_FUNCTIONS(X)                                                                                \
  X(PQclear) X(PQcmdTuples) X(PQconnectdb) X(PQconnectdbParams) X(PQconninfoFree) X(PQconninfoParse) X(PQconsumeInput)            \
  X(PQerrorMessage) X(PQexec) X(PQfinish) X(PQflush) X(PQfnumber) X(PQfreemem) X(PQgetCopyData) X(PQgetResult)      \
  X(PQgetisnull) X(PQgetlength) X(PQgetvalue) X(PQnfields) X(PQntuples) X(PQputCopyData) X(PQputCopyEnd)           \
  X(PQresultErrorField) X(PQresultErrorMessage) X(PQresultStatus) X(PQsendQuery) X(PQserverVersion) X(PQsocket) X(PQstatus)

struct Libpq {
#define WALVAULT_LIBPQ_MEMBER(name) decltype(&::name) name = nullptr;
  WALVAULT_LIBPQ_FUNCTIONS(WALVAULT_LIBPQ_MEMBER)
#undef WALVAULT_LIBPQ_MEMBER
};

// The loaded library; loads it on the first call (thread-safe).
[[nodiscard]] const Libpq& libpq();

}  // namespace walvault::pg
