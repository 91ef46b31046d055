-- Filings of a form in a date range, with their document URLs.
SELECT cik, accession_number, filing_date, index_url, document_url FROM filing_documents
WHERE form = '10-K' AND filing_date BETWEEN '2020-01-01' AND '2025-12-31'
ORDER BY filing_date, cik
