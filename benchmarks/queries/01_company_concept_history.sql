-- One company's history of a concept (Apple's revenue, every period and filing).
SELECT period_start, period_end, value, form, filed FROM facts
WHERE cik = 320193 AND taxonomy = 'us-gaap' AND concept = 'RevenueFromContractWithCustomerExcludingAssessedTax'
ORDER BY period_end, filed
