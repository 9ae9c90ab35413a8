-- A label that came back from the review loop settles its text: per text, the newest reviewed label
-- (latest labelled_at, then landing file, post id, read order; a text is
-- told by ``kh``, the fixed-width digest of its key). reviewed_files: the landing files the
-- review-pull ledger vouches for.
SELECT key, kh, text, label, post_id, batch_dt, labelled_at, source_file
FROM (
    SELECT
        l.*,
        row_number() OVER (
            PARTITION BY kh ORDER BY labelled_at DESC, source_file DESC, post_id DESC, _row DESC
        ) AS newest
    FROM labelled AS l
    WHERE source_file IN (SELECT source_file FROM reviewed_files)
) AS reviewed
WHERE newest = 1
