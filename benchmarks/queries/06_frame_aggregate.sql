-- A frame-wide aggregate: companies reporting net income and the total, per quarter.
SELECT calendar_year, calendar_quarter, count(*) AS companies, sum(value) AS total FROM facts_quarterly
WHERE taxonomy = 'us-gaap' AND concept = 'NetIncomeLoss' AND unit = 'USD' AND instant = 0
GROUP BY calendar_year, calendar_quarter
ORDER BY calendar_year, calendar_quarter
