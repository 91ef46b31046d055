-- A filing by its accession number (under every CIK that lists it).
SELECT cik, form, filing_date, acceptance_datetime, document_url FROM filing_documents
WHERE accession_number = '0000320193-24-000123'
