-- The landing files that fed a newly drawn anchor.
SELECT DISTINCT source_file
FROM labelled
WHERE key IN (SELECT key FROM eval_snapshot)
