-- How much was filed in a date range, by form.
SELECT form, count(*) AS filings FROM filings
WHERE filing_date >= '2025-01-01' AND filing_date < '2025-04-01'
GROUP BY form ORDER BY form
