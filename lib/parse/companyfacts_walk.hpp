// EdgarParser::Impl for companyfacts documents: entityName, then facts by taxonomy, concept and
// unit, each fact a flat object of scalars written as one row.
//
// Member definitions of EdgarParser::Impl, which edgar_parser.cpp declares; included there only,
// after that declaration, so the whole walk is one translation unit and its small steps inline
// into the hot loops (docs/performance.md measured the parser against simdjson's own walk).
#pragma once

namespace edgarpipe {

inline auto EdgarParser::Impl::val_cell_here(Fact& f) -> void {
  f.have_val = true;
  Cell& c = f.val;
  c = Cell{};
  const std::string_view s = trim_right(value_token());
  c.where = s.data();
  ++i_;
  if (plain_integer(s, c.integer)) {
    c.kind = Cell::kInt;
    return;
  }
  if (s[0] == 'n') return null_literal(s);
  if (!is_number_start(s[0])) wrong_type(s, "val", "a number");
  if (read_number(s, c.integer) == NumberKind::kInt64) {
    c.kind = Cell::kInt;
    return;
  }
  c.set_text(s);
  f.val_double = nearest_double(s);
}

inline auto EdgarParser::Impl::look_up_cik() -> void {
  const std::uint32_t facts_at = i_;
  skip_value();
  while (op() == ',') {
    ++i_;
    if (op() != '"') bad_json("expected a string key");
    if (op_at(i_ + 1) != ':') {
      ++i_;
      bad_json("expected ':' after an object key");
    }
    const bool is_cik = trim_right({base + at_[i_], at_[i_ + 1] - at_[i_]}) == "\"cik\"";
    i_ += 2;
    if (is_cik) {
      json_cik = parse_cik(value_token());
      break;
    }
    skip_value();
  }
  if (json_cik < 0 && op() != '}') bad_json("expected ',' or '}' after an object field");
  if (json_cik < 0 && name_cik < 0) throw Reject{"missing \"cik\" in a companyfacts file", nullptr};
  cik_looked_up = true;
  i_ = facts_at;
}

inline auto EdgarParser::Impl::facts_here() -> void {
  require_container('{', "facts", "an object");
  const std::int64_t id = cik();
  for_each_field([&](std::string_view taxonomy, const char* taxonomy_key) {
    log_key(taxonomy_keys, taxonomy, taxonomy_key);
    taxonomy_where = taxonomy_key;
    const std::string taxonomy_path = "facts." + std::string(taxonomy);
    require_container('{', taxonomy_path, "an object");
    for_each_field([&](std::string_view concept_name, const char* concept_key) {
      log_key(concept_keys, concept_name, concept_key);
      concept_where = concept_key;
      const std::string concept_path = taxonomy_path + "." + std::string(concept_name);
      require_container('{', concept_path, "an object");
      Cell label, description;
      std::uint64_t seen = 0;
      for_each_field([&](std::string_view k, const char* key_where) {
        if (k == "label") {
          once(seen, 0, k, key_where, concept_path);
          text_cell_here(label, "label");
        } else if (k == "description") {
          once(seen, 1, k, key_where, concept_path);
          text_cell_here(description, "description");
        } else if (k == "units") {
          once(seen, 2, k, key_where, concept_path);
          units_here(id, taxonomy, concept_name);
        } else {
          skip_value();
        }
      });
      out->begin_row(TableId::kConcepts);
      value_where = taxonomy_where;
      out->text(taxonomy);
      value_where = concept_where;
      out->text(concept_name);
      write(label, CellType::kText);
      write(description, CellType::kText);
      out->end_row();
      result.rows += 1;
    });
    check_keys(concept_keys, taxonomy_path);
  });
  check_keys(taxonomy_keys, "facts");
}

inline auto EdgarParser::Impl::units_here(std::int64_t id, std::string_view taxonomy, std::string_view concept_name)
    -> void {
  require_container('{', "units", "an object");
  for_each_field([&](std::string_view unit, const char* unit_key) {
    log_key(unit_keys, unit, unit_key);
    unit_where = unit_key;
    fact_prefix.valid = false;
    require_container('[', "units." + std::string(unit), "an array");
    for_each_element([&] { fact_here(id, taxonomy, concept_name, unit); });
  });
  if (unit_keys.keys.size() > 1)
    check_keys(unit_keys, "facts." + std::string(taxonomy) + "." + std::string(concept_name) + ".units");
  unit_keys.keys.clear();
}

inline auto EdgarParser::Impl::plain_fact_fields(std::uint32_t& j) -> bool {
  const std::uint32_t* const at = at_;
  const char* const b = base;
  const std::uint32_t n = n_;
  unsigned column = kStart;
  for (;;) {
    if (j + 3 >= n || b[at[j]] != '"' || b[at[j + 1]] != ':') return false;
    std::uint64_t key;
    std::memcpy(&key, b + at[j] + 1, 8);  // the document is padded
    if (column == kStart && (key & kFactKeys[kStart].mask) != kFactKeys[kStart].bytes) {
      out->null();  // no start: an instant
      column = kEnd;
    }
    if (column == kFactColumns || (key & kFactKeys[column].mask) != kFactKeys[column].bytes) return false;
    const char* value = b + at[j + 2];
    const char* value_end = b + at[j + 3];
    value_where = value;  // for a value the run's encoding refuses
    if (!plain_fact_value(static_cast<FactColumn>(column), value, value_end)) return false;
    ++column;
    j += 4;
    const char separator = *value_end;
    if (separator == ',') continue;
    if (separator != '}') return false;
    if (column == kFrame) {
      out->null();
      ++column;
    }
    return column == kFactColumns;
  }
}

[[gnu::always_inline]] inline auto EdgarParser::Impl::plain_fact_value(FactColumn column, const char* value,
                                                                       const char* end) -> bool {
  const auto is_null = [&] { return end - value == 4 && std::memcmp(value, "null", 4) == 0; };
  if (column == kVal || column == kFy) {
    std::int64_t integer;
    if (plain_integer({value, static_cast<std::size_t>(end - value)}, integer)) {
      out->integer(integer);
      return true;
    }
    if (is_null()) {
      out->null();
      return true;
    }
    if (column == kFy || !is_number_start(*value)) return false;
    // Any other number is read as fact_here would (a malformed one is refused the same way).
    const std::string_view text = trim_right({value, static_cast<std::size_t>(end - value)});
    if (read_number(text, integer) == NumberKind::kInt64)
      out->integer(integer);
    else
      out->decimal(nearest_double(text), text);
    return true;
  }
  if (std::string_view text; plain_string(value, end, text)) {
    if (column == kStart || column == kEnd || column == kFiled) {
      if (text.empty()) {  // a DATE column stores "" as NULL
        if (column == kEnd) return false;
        out->null();
        return true;
      }
      if (!is_date(text)) return false;
    } else if (column == kAccn && text.empty()) {
      return false;
    }
    out->text(text);
    return true;
  }
  if (column != kEnd && column != kAccn && is_null()) {
    out->null();
    return true;
  }
  return false;
}

inline auto EdgarParser::Impl::fact_here(std::int64_t id, std::string_view taxonomy, std::string_view concept_name,
                                         std::string_view unit) -> void {
  const char* fact_where = here();
  require_container('{', "fact", "an object");
  if (plain_fact_here(id, taxonomy, concept_name, unit)) return;
  Fact f;
  std::uint64_t seen = 0;
  for_each_field([&](std::string_view k, const char* key_where) {
    const auto first = [&](unsigned bit) { once(seen, bit, k, key_where, "a fact"); };
    switch (k.size() <= 5 ? short_key(k) : 0) {
      case short_key("fy"):
        first(0);
        return int_cell_here(f.fy, "fy");
      case short_key("fp"):
        first(1);
        return text_cell_here(f.fp, "fp");
      case short_key("end"):
        first(2);
        return date_cell_here(f.end, "end");
      case short_key("val"):
        first(3);
        return val_cell_here(f);
      case short_key("accn"):
        first(4);
        return text_cell_here(f.accn, "accn");
      case short_key("form"):
        first(5);
        return text_cell_here(f.form, "form");
      case short_key("start"):
        first(6);
        return date_cell_here(f.start, "start");
      case short_key("filed"):
        first(7);
        return date_cell_here(f.filed, "filed");
      case short_key("frame"):
        first(8);
        return text_cell_here(f.frame, "frame");
      default:
        return skip_value();
    }
  });
  if (f.end.kind != Cell::kText || f.end.text_size == 0) throw Reject{"fact without an \"end\" date", fact_where};
  if (f.accn.kind != Cell::kText || f.accn.text_size == 0) throw Reject{"fact without an \"accn\"", fact_where};
  if (!f.have_val) throw Reject{"fact without a \"val\"", fact_where};
  begin_fact_row(id, taxonomy, concept_name, unit);
  write(f.start, CellType::kDate);
  write(f.end, CellType::kDate);
  value_where = f.val.where;
  if (f.val.kind == Cell::kNull)
    out->null();
  else if (f.val.kind == Cell::kInt)
    out->integer(f.val.integer);
  else
    out->decimal(f.val_double, f.val.text());
  write(f.accn, CellType::kText);
  write(f.fy, CellType::kInt);
  write(f.fp, CellType::kText);
  write(f.form, CellType::kText);
  write(f.filed, CellType::kDate);
  write(f.frame, CellType::kText);
  out->end_row();
  result.rows += 1;
}

inline auto EdgarParser::Impl::emit_entity() -> void {
  if (json_cik < 0 && !have_entity_name) return;  // `{}`: a valid file with no facts
  if (cik() < 0) throw Reject{"missing \"cik\" in a companyfacts file", nullptr};
  out->begin_row(TableId::kEntities);
  out->integer(cik());
  write(entity_name, CellType::kText);
  out->end_row();
  result.rows += 1;
}

}  // namespace edgarpipe
