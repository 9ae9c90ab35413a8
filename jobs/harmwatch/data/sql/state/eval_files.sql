-- The landing files that fed a newly drawn anchor.
SELECT DISTINCT unnest(files) AS source_file FROM s_labels WHERE key IN (SELECT key FROM eval_snapshot)
