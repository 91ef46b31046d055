-- The latest value of each of a company's asset figures, restatements resolved.
SELECT period_start, period_end, value, accession_number, filed FROM facts_latest
WHERE cik = 320193 AND taxonomy = 'us-gaap' AND concept = 'Assets'
ORDER BY period_end
