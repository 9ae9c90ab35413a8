-- Per reported text, the newest batch its reports arrived in: when a weak label's evidence last grew.
SELECT max(key) AS key, max(batch_dt) AS batch_dt
FROM reports
GROUP BY kh
