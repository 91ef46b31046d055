// EdgarParser: runs a document through EdgarParser::Impl (edgar_parser_impl.hpp), whose steps
// are defined here and, by job, in the walk fragments included below: the parser stays one
// translation unit, so its small steps inline into the hot loops (docs/performance.md measured
// the parser against simdjson's own walk).
#include "edgar_parser_impl.hpp"

namespace edgarpipe {

inline auto EdgarParser::Impl::reset_document() -> void {
  result = ParseOutcome{};
  value_where = nullptr;
  kind = Kind::kUnknown;
  json_cik = -1;
  cik_looked_up = false;
  company.fill(Cell{});
  have_company_fields = false;
  tickers.clear();
  exchanges.clear();
  tickers_where = nullptr;
  former_names.clear();
  pages.clear();
  for (auto& c : columns) c.clear();
  column_present.fill(false);
  column_where.fill(nullptr);
  have_filings = false;
  entity_name = Cell{};
  have_entity_name = false;
  top_keys = 0;
  taxonomy_keys.keys.clear();
  concept_keys.keys.clear();
  unit_keys.keys.clear();
}

inline auto EdgarParser::Impl::check_kind(std::string_view key, const char* value_at) -> void {
  const Kind says = is_companyfacts_key(key) ? Kind::kFacts : is_submissions_key(key) ? Kind::kMain : Kind::kUnknown;
  if (kind == Kind::kUnknown) {
    kind = says;
  } else if (says != Kind::kUnknown && says != kind) {
    throw Reject{"key \"" + std::string(key) + "\" does not belong in a " +
                     (kind == Kind::kMain ? "submissions main file" : "companyfacts file"),
                 value_at};
  }
}

inline auto EdgarParser::Impl::parse_document(std::size_t len) -> void {
  check_stage1(index.build(base, len), len);
  at_ = index.offsets();
  n_ = index.count();
  len_ = len;
  i_ = 0;
  if (op() != '{') {
    if (type_named_by(op()) == nullptr) invalid_json(value_token(), "expected a value, found");
    throw Reject{"expected a JSON object at the top level", base};
  }
  if (kind == Kind::kPage) {
    parse_columns("");
    if (i_ != n_) throw Reject{"trailing content after the JSON document", here()};
    emit_filings(name_cik, "");
    return;
  }
  for_each_field([&](std::string_view key, const char* key_where) {
    if (key == "cik") {
      once(top_keys, kTopKeyCik, key, key_where, "the document's object");
      if (!cik_looked_up) json_cik = parse_cik(value_token());
      return skip_value();
    }
    check_kind(key, here());
    if (kind == Kind::kMain)
      submissions_field(key, key_where);
    else if (kind == Kind::kFacts && key == "entityName") {
      once(top_keys, kTopKeyEntityName, key, key_where, "the document's object");
      text_cell_here(entity_name, key);
      have_entity_name = true;
    } else if (kind == Kind::kFacts && key == "facts") {
      once(top_keys, kTopKeyFacts, key, key_where, "the document's object");
      if (json_cik < 0 && !cik_looked_up) look_up_cik();
      facts_here();
    } else {
      skip_value();
    }
  });
  if (i_ != n_) throw Reject{"trailing content after the JSON document", here()};
  finish_document();
}

inline auto EdgarParser::Impl::finish_document() -> void {
  if (kind == Kind::kUnknown) {
    // `{}` or only unknown keys: no rows. The path's hint names the dataset it is recorded under.
    kind = fallback == Dataset::kSubmissions ? Kind::kMain : Kind::kFacts;
    if (kind == Kind::kMain) throw Reject{"no submissions keys (cik, name, filings...) in the document", nullptr};
  }
  if (kind == Kind::kMain)
    emit_main();
  else
    emit_entity();
}

inline auto EdgarParser::Impl::check_stage1(simdjson::error_code e, std::size_t len) const -> void {
  if (e == simdjson::SUCCESS) return;
  if (e == simdjson::UTF8_ERROR) throw Reject{"invalid UTF-8", base + first_invalid_utf8(base, len)};
  if (e == simdjson::UNESCAPED_CHARS)
    throw Reject{"invalid JSON: a control character inside a string must be escaped", first_control_char(base, len)};
  throw simdjson::simdjson_error(e);
}

}  // namespace edgarpipe

// The walk first: the datasets' steps call it.
#include "json_walk.inc"

#include "companyfacts_walk.inc"
#include "submissions_walk.inc"

namespace edgarpipe {

EdgarParser::EdgarParser() : impl_(std::make_unique<Impl>()) {}
EdgarParser::~EdgarParser() = default;

ParseOutcome EdgarParser::parse(const char* data, std::size_t length, std::size_t capacity, std::string_view path,
                                Dataset hint, bool forced, RowBatchWriter& out) {
  return impl_->parse(data, length, capacity, path, hint, forced, out);
}

}  // namespace edgarpipe
