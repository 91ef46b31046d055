// EdgarParser::Impl for submissions documents: main files (company fields, tickers, former names,
// overflow page entries, the recent filings columns) and overflow pages (bare filings columns).
//
// Member definitions of EdgarParser::Impl, which edgar_parser.cpp declares; included there only,
// after that declaration, so the whole walk is one translation unit and its small steps inline
// into the hot loops (docs/performance.md measured the parser against simdjson's own walk).
#pragma once

namespace edgarpipe {

inline auto EdgarParser::Impl::parse_columns(std::string_view prefix) -> void {
  have_filings = true;
  for_each_field([&](std::string_view key, const char* key_where) {
    const FilingColumn* col = find_key(kFilingColumns, key);
    if (col == nullptr) {
      ++result.unknown_columns;  // unknown columns are ignored
      return skip_value();
    }
    if (column_present[col->column]) duplicate_key(key, key_where, prefix.empty() ? "the document's object" : prefix);
    const std::string path = prefix.empty() ? std::string(key) : std::string(prefix) + "." + std::string(key);
    require_container('[', path, "an array");
    column_present[col->column] = true;
    column_where[col->column] = here();
    auto& cells = columns[col->column];
    cells.resize(read_column(cells, col->type, path));
  });
}

inline auto EdgarParser::Impl::read_column(std::vector<Cell>& cells, CellType type, std::string_view path)
    -> std::size_t {
  const std::uint32_t* const at = at_;
  const char* const b = base;
  const std::uint32_t n = n_;
  std::uint32_t j = i_ + 1;
  std::size_t count = 0;
  if (j < n && b[at[j]] == ']') {
    i_ = j + 1;
    return 0;
  }
  for (;;) {
    if (count == cells.size()) cells.resize(std::max<std::size_t>(64, 2 * cells.size()));
    Cell& c = cells[count++];
    if (j + 1 >= n || !plain_cell(c, type, b + at[j], b + at[j + 1])) {
      i_ = j;
      cell_here(c, type, path);  // refuses what is wrong, or reads what is unusual
      j = i_;
    } else {
      check_cell(c, type, path);
      ++j;
    }
    const char separator = j < n ? b[at[j]] : '\0';
    ++j;
    if (separator == ',') continue;
    if (separator == ']') break;
    i_ = j - 1;
    bad_json("expected ',' or ']' after an array element");
  }
  i_ = j;
  return count;
}

[[gnu::always_inline]] inline auto EdgarParser::Impl::plain_cell(Cell& c, CellType type, const char* value,
                                                                 const char* end) -> bool {
  c.where = value;
  if (type == CellType::kInt) {
    if (!plain_integer({value, static_cast<std::size_t>(end - value)}, c.integer)) return false;
    c.kind = Cell::kInt;
    return true;
  }
  std::string_view text;
  if (!plain_string(value, end, text)) return false;
  c.set_text(text);
  return true;
}

inline auto EdgarParser::Impl::emit_filings(std::int64_t cik, std::string_view prefix) -> void {
  if (!have_filings) return;
  std::size_t rows = 0;
  int first = -1;
  for (int c = 0; c < filings_col::count_; ++c) {
    if (!column_present[c]) continue;
    if (first < 0) {
      first = c;
      rows = columns[c].size();
    } else if (columns[c].size() != rows) {
      throw Reject{(prefix.empty() ? std::string("columns") : std::string(prefix)) + ": arrays of unequal length (" +
                       std::string(column_key(first)) + " has " + std::to_string(rows) + " entries, " +
                       std::string(column_key(c)) + " has " + std::to_string(columns[c].size()) + ")",
                   column_where[c]};
    }
  }
  if (rows == 0) return;
  if (!column_present[filings_col::accession_number])
    throw Reject{
        (prefix.empty() ? std::string("columns") : std::string(prefix)) + ": filings without an accessionNumber column",
        nullptr};
  for (std::size_t r = 0; r < rows; ++r) {
    const Cell& accession = columns[filings_col::accession_number][r];
    if (accession.kind != Cell::kText || accession.text().empty())
      throw Reject{(prefix.empty() ? std::string() : std::string(prefix) + ".") + "accessionNumber[" +
                       std::to_string(r) + "]: missing accession number",
                   accession.where};
    out->begin_row(TableId::kFilings);
    out->integer(cik);
    for (const FilingColumn& col : kFilingColumns) {
      // kFilingColumns lists every column after cik in table order.
      if (column_present[col.column])
        write(columns[col.column][r], col.type);
      else
        out->null();
    }
    out->end_row();
  }
  result.rows += rows;
}

inline auto EdgarParser::Impl::column_key(int column) noexcept -> std::string_view {
  for (const auto& c : kFilingColumns)
    if (c.column == column) return c.key;
  return "?";
}

inline auto EdgarParser::Impl::parse_address(std::uint8_t base_column, std::string_view path) -> void {
  if (op() == 'n') {
    null_literal(value_token());
    ++i_;
    return;
  }
  require_container('{', path, "an object");
  std::uint64_t seen = 0;
  for_each_field([&](std::string_view key, const char* key_where) {
    const CompanyField* field = find_key(kAddressFields, key);
    if (field == nullptr) return skip_value();
    once(seen, field->column, key, key_where, path);
    cell_here(company[base_column + field->column], field->type, std::string(path) + "." + std::string(key));
  });
}

inline auto EdgarParser::Impl::submissions_field(std::string_view key, const char* key_where) -> void {
  constexpr std::string_view kObject = "the document's object";
  if (const CompanyField* field = find_key(kCompanyFields, key)) {
    once(top_keys, field->column, key, key_where, kObject);
    cell_here(company[field->column], field->type, key);
    have_company_fields = true;
  } else if (key == "tickers" || key == "exchanges") {
    once(top_keys, key == "tickers" ? kTopKeyTickers : kTopKeyExchanges, key, key_where, kObject);
    auto& list = key == "tickers" ? tickers : exchanges;
    require_container('[', key, "an array");
    if (key == "tickers") tickers_where = here();
    for_each_element([&] { text_cell_here(list.emplace_back(), key); });
  } else if (key == "formerNames") {
    once(top_keys, kTopKeyFormerNames, key, key_where, kObject);
    require_container('[', key, "an array");
    for_each_element([&] {
      require_container('{', "formerNames[]", "an object");
      std::array<Cell, 3>& row = former_names.emplace_back();  // filled in place
      std::uint64_t seen = 0;
      for_each_field([&](std::string_view k, const char* where) {
        if (k == "name") {
          once(seen, 0, k, where, "formerNames[]");
          text_cell_here(row[0], "formerNames[].name");
        } else if (k == "from") {
          once(seen, 1, k, where, "formerNames[]");
          cell_here(row[1], CellType::kTimestamp, "formerNames[].from");
        } else if (k == "to") {
          once(seen, 2, k, where, "formerNames[]");
          cell_here(row[2], CellType::kTimestamp, "formerNames[].to");
        } else {
          skip_value();
        }
      });
    });
  } else if (key == "addresses") {
    once(top_keys, kTopKeyAddresses, key, key_where, kObject);
    require_container('{', key, "an object");
    std::uint64_t seen = 0;
    for_each_field([&](std::string_view k, const char* where) {
      if (k == "mailing") {
        once(seen, 0, k, where, "addresses");
        parse_address(kMailingBase, "addresses.mailing");
      } else if (k == "business") {
        once(seen, 1, k, where, "addresses");
        parse_address(kBusinessBase, "addresses.business");
      } else {
        skip_value();
      }
    });
  } else if (key == "filings") {
    once(top_keys, kTopKeyFilings, key, key_where, kObject);
    require_container('{', key, "an object");
    std::uint64_t seen = 0;
    for_each_field([&](std::string_view k, const char* where) {
      if (k == "recent") {
        once(seen, 0, k, where, "filings");
        require_container('{', "filings.recent", "an object");
        parse_columns("filings.recent");
      } else if (k == "files") {
        once(seen, 1, k, where, "filings");
        require_container('[', "filings.files", "an array");
        for_each_element([&] { parse_page_entry(); });
      } else {
        skip_value();
      }
    });
  } else {
    skip_value();
  }
}

inline auto EdgarParser::Impl::parse_page_entry() -> void {
  require_container('{', "filings.files[]", "an object");
  const char* where = here();
  Page page;
  std::uint64_t seen = 0;
  for_each_field([&](std::string_view k, const char* key_where) {
    constexpr std::string_view kObject = "filings.files[]";
    if (k == "name") {
      once(seen, 0, k, key_where, kObject);
      text_cell_here(page.name, "filings.files[].name");
    } else if (k == "filingCount") {
      once(seen, 1, k, key_where, kObject);
      int_cell_here(page.count, "filings.files[].filingCount");
    } else if (k == "filingFrom") {
      once(seen, 2, k, key_where, kObject);
      cell_here(page.from, CellType::kDate, "filings.files[].filingFrom");
    } else if (k == "filingTo") {
      once(seen, 3, k, key_where, kObject);
      cell_here(page.to, CellType::kDate, "filings.files[].filingTo");
    } else {
      skip_value();
    }
  });
  if (page.name.kind != Cell::kText || page.name.text().empty())
    throw Reject{"filings.files[]: page without a name", where};
  pages.push_back(page);
}

inline auto EdgarParser::Impl::emit_main() -> void {
  if (json_cik < 0) throw Reject{"missing \"cik\": not a submissions main file", nullptr};
  const std::int64_t id = json_cik;
  const TableDef& companies = table_def(TableId::kCompanies);
  out->begin_row(TableId::kCompanies);
  out->integer(id);
  for (std::size_t c = 1; c < kCompanyColumns; ++c) {
    const ColumnType t = companies.columns[c].type;
    write(company[c], t == ColumnType::kSmallInt ? CellType::kInt : CellType::kText);
  }
  out->end_row();
  result.rows += 1;

  if (tickers.size() != exchanges.size())
    throw Reject{"tickers has " + std::to_string(tickers.size()) + " entries but exchanges has " +
                     std::to_string(exchanges.size()),
                 tickers_where};
  for (std::size_t i = 0; i < tickers.size(); ++i) {
    out->begin_row(TableId::kCompanyTickers);
    out->integer(id);
    out->integer(static_cast<std::int64_t>(i));
    write(tickers[i], CellType::kText);
    write(exchanges[i], CellType::kText);
    out->end_row();
  }
  for (std::size_t i = 0; i < former_names.size(); ++i) {
    out->begin_row(TableId::kFormerNames);
    out->integer(id);
    out->integer(static_cast<std::int64_t>(i));
    write(former_names[i][0], CellType::kText);
    write(former_names[i][1], CellType::kTimestamp);
    write(former_names[i][2], CellType::kTimestamp);
    out->end_row();
  }
  for (const Page& page : pages) {
    out->begin_row(TableId::kSubmissionPages);
    out->integer(id);
    write(page.name, CellType::kText);
    write(page.count, CellType::kInt);
    write(page.from, CellType::kDate);
    write(page.to, CellType::kDate);
    out->end_row();
  }
  result.rows += tickers.size() + former_names.size() + pages.size();
  emit_filings(id, "filings.recent");
}

}  // namespace edgarpipe
