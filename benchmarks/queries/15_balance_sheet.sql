-- One filer's standard balance sheet at each report's date, line by line, with the concept used
-- (balance_sheet over statement_lines; facts_key serves it).
SELECT fiscal_year, fiscal_period, period_end, line, value, concept FROM balance_sheet
WHERE cik = 320193
ORDER BY fiscal_year, fiscal_period, line_order
