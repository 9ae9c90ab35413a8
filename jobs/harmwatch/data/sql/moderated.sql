-- One row per text with a single moderator label: the earliest row of an unconflicted text (by
-- labelled_at, post id, read order), and every text a review decision settled.
SELECT key, kh, text, label, post_id, batch_dt, labelled_at, source_file
FROM (
    SELECT
        o.*,
        row_number() OVER (PARTITION BY kh ORDER BY labelled_at, post_id, _row) AS earliest
    FROM open_labels AS o
    WHERE kh NOT IN (SELECT kh FROM conflicted_keys)
) AS clean
WHERE earliest = 1
UNION ALL
SELECT key, kh, text, label, post_id, batch_dt, labelled_at, source_file
FROM decided_labels
