-- One concept across all companies for a calendar year (the SEC's frame).
SELECT cik, value, accession_number FROM facts_annual
WHERE taxonomy = 'us-gaap' AND concept = 'NetIncomeLoss' AND unit = 'USD' AND calendar_year = 2023
ORDER BY cik
