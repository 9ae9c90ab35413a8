-- The landing files that fed a newly drawn anchor.
SELECT DISTINCT source_file
FROM labelled
WHERE kh IN (SELECT kh FROM eval_snapshot)
