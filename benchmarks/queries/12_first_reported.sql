-- Point in time: one filer's annual net income as first reported, for a backtest without
-- look-ahead (facts_first_reported; facts_key serves it).
SELECT period_start, period_end, value, accession_number, filed FROM facts_first_reported
WHERE cik = 320193 AND taxonomy = 'us-gaap' AND concept = 'NetIncomeLoss' AND unit = 'USD'
ORDER BY period_end, period_start
