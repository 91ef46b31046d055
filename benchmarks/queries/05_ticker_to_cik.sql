-- Ticker to CIK and name.
SELECT cik, name, exchange FROM ticker_lookup WHERE ticker = 'NVDA'
