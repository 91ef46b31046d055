// EdgarParser::Impl's walk over simdjson's structural index: the cursor, the grammar checks, and
// reading scalars into cells (checked against their column types) and writing them to the batch.
//
// Member definitions of EdgarParser::Impl, which edgar_parser.cpp declares; included there only,
// after that declaration, so the whole walk is one translation unit and its small steps inline
// into the hot loops (docs/performance.md measured the parser against simdjson's own walk).
#pragma once

namespace edgarpipe {

[[noreturn]] inline auto EdgarParser::Impl::bad_json(const char* what) const -> void {
  throw Reject{std::string("invalid JSON: ") + (i_ >= n_ ? kEndsEarly : what), here()};
}

inline auto EdgarParser::Impl::value_token() const -> std::string_view {
  if (i_ >= n_) bad_json(kEndsEarly);
  return {base + at_[i_], at_[i_ + 1] - at_[i_]};
}

inline auto EdgarParser::Impl::unescaped(std::string_view raw) -> std::string_view {
  std::string_view text;
  if (!index.unescape(raw.data(), raw.data() + raw.size() - 1, text))
    throw Reject{"invalid JSON: a string has an invalid escape", raw.data()};
  return text;
}

[[gnu::always_inline]] inline auto EdgarParser::Impl::key_at(std::uint32_t j) -> std::string_view {
  const char* open = base + at_[j];
  const char* close = base + at_[j + 1];
  do --close;
  while (is_json_space(*close));  // the closing quote
  if (!has_backslash(open + 1, close)) return {open + 1, static_cast<std::size_t>(close - open - 1)};
  return unescaped({open, static_cast<std::size_t>(close - open + 1)});
}

template <class OnField>
[[gnu::always_inline]] inline auto EdgarParser::Impl::for_each_field(OnField&& on_field) -> void {
  ++i_;
  if (op() == '}') {
    ++i_;
    return;
  }
  for (;;) {
    if (op() != '"') bad_json("expected a string key");
    if (op_at(i_ + 1) != ':') {
      ++i_;
      bad_json("expected ':' after an object key");
    }
    const char* key_where = base + at_[i_] + 1;
    const std::string_view key = key_at(i_);
    i_ += 2;
    on_field(key, key_where);
    const char c = op();
    ++i_;
    if (c == ',') continue;
    if (c == '}') return;
    --i_;
    bad_json("expected ',' or '}' after an object field");
  }
}

template <class OnElement>
[[gnu::always_inline]] inline auto EdgarParser::Impl::for_each_element(OnElement&& on_element) -> void {
  ++i_;
  if (op() == ']') {
    ++i_;
    return;
  }
  for (;;) {
    on_element();
    const char c = op();
    ++i_;
    if (c == ',') continue;
    if (c == ']') return;
    --i_;
    bad_json("expected ',' or ']' after an array element");
  }
}

inline auto EdgarParser::Impl::skip_value() -> void {
  const char c = op();
  if (c == '{' || c == '[') {
    std::uint32_t depth = 0;
    do {
      if (i_ >= n_) bad_json(kEndsEarly);
      const char d = base[at_[i_++]];
      depth += static_cast<std::uint32_t>(d == '{' || d == '[');
      depth -= static_cast<std::uint32_t>(d == '}' || d == ']');
    } while (depth != 0);
    return;
  }
  if (type_named_by(c) == nullptr) invalid_json(value_token(), "expected a value, found");
  ++i_;
}

inline auto EdgarParser::Impl::require_container(char open, std::string_view path, std::string_view expected) -> void {
  if (op() != open) wrong_type(value_token(), path, expected);
}

inline auto EdgarParser::Impl::text_cell_here(Cell& c, std::string_view path) -> void {
  text_cell(c, value_token(), path);
  ++i_;
}

inline auto EdgarParser::Impl::date_cell_here(Cell& c, std::string_view path) -> void {
  text_cell_here(c, path);
  check_cell(c, CellType::kDate, path);
}

inline auto EdgarParser::Impl::int_cell_here(Cell& c, std::string_view path) -> void {
  int_cell(c, value_token(), path);
  ++i_;
}

inline auto EdgarParser::Impl::cell_here(Cell& c, CellType type, std::string_view path) -> void {
  if (type == CellType::kInt)
    int_cell_here(c, path);
  else
    text_cell_here(c, path);
  check_cell(c, type, path);
}

inline auto EdgarParser::Impl::text_cell(Cell& c, std::string_view token, std::string_view path) -> void {
  c.where = token.data();  // every path below sets the other fields, set_text() all of them
  if (token[0] == '"') {
    // Zero-copy when the string has no escape (nearly all SEC text): the bytes between the
    // quotes in the document are the value, already UTF-8-validated by simdjson's first stage.
    const std::string_view raw = trim_right(token);  // at least the two quotes (stage 1)
    const std::string_view inner(raw.data() + 1, raw.size() - 2);
    if (!has_backslash(inner.data(), inner.data() + inner.size())) {
      c.set_text(inner);
      return;
    }
    const std::string_view text = unescaped(raw);
    c.set_text(text);
    if (std::memchr(text.data(), '\0', text.size()) != nullptr)  // a \u0000 escape
      throw Reject{std::string(path) + ": text contains a NUL character", c.where};
    return;
  }
  c.kind = Cell::kNull;
  c.text_size = 0;
  if (token[0] == 'n') return null_literal(token);
  wrong_type(token, path, "a string or null");
}

inline auto EdgarParser::Impl::int_cell(Cell& c, std::string_view token, std::string_view path) -> void {
  c = Cell{};
  const std::string_view s = trim_right(token);
  c.where = s.data();
  if (plain_integer(s, c.integer)) {  // nearly every SEC integer
    c.kind = Cell::kInt;
    return;
  }
  switch (s[0]) {
    case 't':
    case 'f':  // flags are 0/1 in SEC files; a boolean means the same
      c.kind = Cell::kInt;
      c.integer = bool_literal(s) ? 1 : 0;
      return;
    case 'n':
      return null_literal(s);
    default:
      if (is_number_start(s[0])) {
        if (read_number(s, c.integer) != NumberKind::kInt64) wrong_type(s, path, "an integer");
        c.kind = Cell::kInt;
        return;
      }
      wrong_type(s, path, "an integer or null");
  }
}

[[gnu::always_inline]] inline auto EdgarParser::Impl::check_cell(const Cell& c, CellType type, std::string_view path)
    -> void {
  if ((type == CellType::kDate || type == CellType::kTimestamp) && c.kind == Cell::kText && c.text_size != 0)
    check_calendar_cell(c, type, path);
}

inline auto EdgarParser::Impl::check_calendar_cell(const Cell& c, CellType type, std::string_view path) -> void {
  if (type == CellType::kDate && !is_date(c.text()))
    throw Reject{std::string(path) + ": \"" + std::string(text_excerpt(c.text(), 40)) + "\" is not a date (YYYY-MM-DD)",
                 c.where};
  if (type == CellType::kTimestamp && !is_timestamp(c.text()))
    throw Reject{std::string(path) + ": \"" + std::string(text_excerpt(c.text(), 40)) +
                     "\" is not a UTC timestamp (YYYY-MM-DDTHH:MM:SS.000Z)",
                 c.where};
}

inline auto EdgarParser::Impl::write(const Cell& c, CellType type) -> void {
  value_where = c.where;  // for a value the run's encoding refuses (ValueRejected)
  switch (c.kind) {
    case Cell::kNull:
      out->null();
      return;
    case Cell::kInt:
      out->integer(c.integer);
      return;
    case Cell::kText:
      if (type == CellType::kDate) {
        if (c.text().empty())
          out->null();  // DATE columns map "" to NULL
        else
          out->text(c.text());
      } else if (type == CellType::kTimestamp) {
        if (c.text().empty()) {
          out->null();
        } else {
          char buf[24];
          out->text(std::string_view(buf, sql_timestamp(c.text(), buf)));  // checked by check_cell()
        }
      } else {
        out->text(c.text());
      }
      return;
  }
}

inline auto EdgarParser::Impl::parse_cik(std::string_view token) -> std::int64_t {
  const std::string_view s = trim_right(token);
  if (s[0] == '"') {
    Cell c;
    text_cell(c, token, "cik");
    const std::string_view digits = c.text();
    if (digits.empty() || digits.size() > 10 || !is_digits(digits))
      throw Reject{"cik: \"" + std::string(text_excerpt(digits, 20)) + "\" is not a CIK (1 to 10 digits)", s.data()};
    std::int64_t cik = 0;
    std::from_chars(digits.data(), digits.data() + digits.size(), cik);
    return cik;
  }
  if (!is_number_start(s[0])) wrong_type(s, "cik", "a string or number");
  std::int64_t cik = 0;
  if (read_number(s, cik) != NumberKind::kInt64) wrong_type(s, "cik", "a whole number");
  if (cik < 0 || cik > 9'999'999'999) throw Reject{"cik: " + std::to_string(cik) + " is out of range", s.data()};
  return cik;
}

}  // namespace edgarpipe
