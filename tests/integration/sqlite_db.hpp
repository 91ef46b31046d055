// Shared by the integration tests that load SQLite: read a database back as text.
#pragma once

#include <sqlite3.h>

#include <fmt/format.h>
#include <catch2/catch.hpp>
#include <string>

namespace edgarpipe::test {

class Db {
 public:
  explicit Db(const std::string& path) {
    REQUIRE(sqlite3_open_v2(path.c_str(), &db_, SQLITE_OPEN_READONLY, nullptr) == SQLITE_OK);
    sqlite3_busy_timeout(db_, 10000);  // a run may be committing (or indexing) meanwhile
  }
  ~Db() { sqlite3_close(db_); }
  // All rows of a query as text, one line per row, columns separated by '|', NULL as \N.
  std::string text(const std::string& sql) const {
    sqlite3_stmt* stmt = nullptr;
    INFO(sql);
    REQUIRE(sqlite3_prepare_v2(db_, sql.c_str(), -1, &stmt, nullptr) == SQLITE_OK);
    std::string out;
    while (sqlite3_step(stmt) == SQLITE_ROW) {
      for (int i = 0; i < sqlite3_column_count(stmt); ++i) {
        if (i) out += '|';
        if (sqlite3_column_type(stmt, i) == SQLITE_NULL)
          out += "\\N";
        else
          out += reinterpret_cast<const char*>(sqlite3_column_text(stmt, i));
      }
      out += '\n';
    }
    sqlite3_finalize(stmt);
    if (!out.empty()) out.pop_back();
    return out;
  }
  long long count(const std::string& sql) const { return std::stoll(text(sql)); }
  // Every table, in a canonical order: for comparing two loads.
  std::string dump() const {
    std::string all;
    for (const char* t : {"companies", "company_tickers", "former_names", "submission_pages", "filings", "entities",
                          "concepts", "facts"}) {
      const std::string cols = text(fmt::format("SELECT group_concat(name, ',') FROM pragma_table_info('{}')", t));
      all += fmt::format("== {}\n{}\n", t, text(fmt::format("SELECT * FROM {} ORDER BY {}", t, cols)));
    }
    all += text(
        "SELECT dataset, source_file, cik, bytes, content_hash, status, rows, error FROM ingest_files ORDER BY 1, 2");
    return all;
  }

 private:
  sqlite3* db_ = nullptr;
};

}  // namespace edgarpipe::test
