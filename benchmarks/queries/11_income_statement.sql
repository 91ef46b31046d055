-- One filer's standard income statement for a fiscal year: each line's value, the concept it
-- came from and the filing (income_statement over statement_lines; facts_key serves it).
SELECT line, value, unit, concept, accession_number FROM income_statement
WHERE cik = 320193 AND fiscal_year = 2023 AND fiscal_period = 'FY'
ORDER BY line_order
