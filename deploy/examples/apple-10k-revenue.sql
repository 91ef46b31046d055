-- Apple's last five 10-K filings (submissions: filings) joined with the revenue facts each of
-- them reported (companyfacts: facts) for the fiscal year it covers.
WITH tenk AS (
  SELECT accession_number, filing_date, report_date
  FROM filings
  WHERE cik = 320193 AND form = '10-K'
  ORDER BY filing_date DESC
  LIMIT 5
)
SELECT t.filing_date, t.accession_number, x.concept, x.period_start, x.period_end,
       printf('%,d', x.value) AS revenue_usd
FROM tenk t
JOIN facts x ON x.cik = 320193 AND x.accession_number = t.accession_number
WHERE x.concept IN ('Revenues', 'RevenueFromContractWithCustomerExcludingAssessedTax', 'SalesRevenueNet')
  AND x.unit = 'USD'
  AND x.period_end = t.report_date
  AND julianday(x.period_end) - julianday(x.period_start) > 300
ORDER BY t.filing_date DESC;
