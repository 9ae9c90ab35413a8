-- The texts known only from reports (no moderator labelled them at all), with their first report's text.
SELECT key, coalesce(p_text, w_text) AS text FROM s_reports WHERE key NOT IN (SELECT key FROM s_labels)
