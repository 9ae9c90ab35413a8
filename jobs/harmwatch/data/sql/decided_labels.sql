-- A label that came back from the review loop settles its text: per text, the newest reviewed label
-- (latest labelled_at, then landing file, post id, read order; a text is told by ``kh``, the hash of
-- its key). reviewed_files: the landing files the review-pull ledger vouches for.
SELECT key, kh, text, label, post_id, batch_dt, labelled_at, source_file
FROM (
    SELECT /*+ BROADCAST(r) */
        l.*,
        row_number() OVER (
            PARTITION BY l.kh ORDER BY l.labelled_at DESC, l.source_file DESC, l.post_id DESC, l._row DESC
        ) AS newest
    FROM labelled AS l
    JOIN reviewed_files AS r ON r.source_file = l.source_file  -- distinct names, broadcast
) AS reviewed
WHERE newest = 1
