-- Per reported text, the newest batch its reports arrived in.
SELECT key, newest_batch AS batch_dt FROM s_reports
