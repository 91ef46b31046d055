-- The SEC's frames API from the database (`edgarpipe frame us-gaap:Assets USD CY2022Q4I`): each
-- filer's fact for one concept, unit and calendar frame, with its name (facts_concept_frame).
SELECT cik, entity_name, accession_number, period_start, period_end, value, form, filed FROM (SELECT f.cik,
e.entity_name, f.accession_number, f.period_start, f.period_end, f.value, f.form, f.filed, ROW_NUMBER() OVER
(PARTITION BY f.cik ORDER BY CASE WHEN f.filed IS NULL THEN 0 ELSE 1 END DESC, f.filed DESC,
f.accession_number DESC) AS pick FROM facts f LEFT JOIN entities e ON e.cik = f.cik WHERE f.taxonomy = 'us-gaap'
AND f.concept = 'Assets' AND f.unit = 'USD' AND f.frame = 'CY2022Q4I') x WHERE pick = 1 ORDER BY cik
