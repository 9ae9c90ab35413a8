-- The recent slice: the moderator-labelled texts of the training snapshot (train) that first arrived in
-- the batches :start to :day (the window), held out of this run's snapshot so that models are judged on
-- language none of them has trained on. Read from recent_rows, the labelled rows the window bounds
-- (relational.recent_rows). Not held out: a text a batch before the window carried (an earlier snapshot
-- may hold it), a text with a label the review loop sent back (reviewed_files: picked from the review
-- queue, not drawn from the day's posts, it goes to training), a weak label (train's label_source
-- 'reports': not ground truth). Each text is dated by the batch of its first row in the window, in read
-- order (_row).
WITH earlier AS (
    SELECT DISTINCT key FROM recent_rows WHERE batch_dt < :start
),
reviewed AS (
    SELECT DISTINCT key
    FROM recent_rows
    WHERE source_file IN (SELECT source_file FROM reviewed_files)
),
first_seen AS (
    SELECT key, batch_dt
    FROM (
        SELECT key, batch_dt, row_number() OVER (PARTITION BY key ORDER BY _row) AS place
        FROM recent_rows
        WHERE batch_dt >= :start AND batch_dt <= :day
    ) AS ranked
    WHERE place = 1
)
SELECT t.key, t.text, t.label, t.post_id, f.batch_dt
FROM train AS t
JOIN first_seen AS f ON f.key = t.key
WHERE t.label_source = 'moderator'
    AND t.key NOT IN (SELECT key FROM earlier)
    AND t.key NOT IN (SELECT key FROM reviewed)
