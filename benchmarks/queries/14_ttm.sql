-- Trailing twelve months: one filer's net income over the last four quarters at each quarter's end
-- (facts_ttm; facts_key serves it).
SELECT period_start, period_end, value FROM facts_ttm
WHERE cik = 320193 AND taxonomy = 'us-gaap' AND concept = 'NetIncomeLoss' AND unit = 'USD'
ORDER BY period_end
