-- Discrete quarters: one filer's revenue by fiscal quarter, Q4 derived from the year
-- (facts_quarter_discrete; facts_key serves it).
SELECT period_start, period_end, value, method, derived_from FROM facts_quarter_discrete
WHERE cik = 320193 AND taxonomy = 'us-gaap' AND concept = 'RevenueFromContractWithCustomerExcludingAssessedTax'
AND unit = 'USD'
ORDER BY period_end
