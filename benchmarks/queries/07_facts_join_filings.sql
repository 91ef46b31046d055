-- A concept's values for a year with the filing each came from.
SELECT f.cik, f.value, d.form, d.filing_date, d.document_url FROM facts f
JOIN filing_documents d ON d.cik = f.cik AND d.accession_number = f.accession_number
WHERE f.taxonomy = 'us-gaap' AND f.concept = 'NetIncomeLoss' AND f.unit = 'USD' AND f.frame = 'CY2023'
ORDER BY f.cik
