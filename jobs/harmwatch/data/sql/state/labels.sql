-- Fold the new labelled rows (new_labelled) into the per-text label state (s_labels): the new state rows
-- of the texts the new rows touch (they replace the old ones). For each, its old state row and its new
-- rows are candidates again, and each fact is re-picked by the very order the full plan uses, so
-- folding day by day equals deciding on the whole history.
-- m_*: the earliest open row (labelled_at, post id, read order): the moderated label of a clean text.
-- c_*: the earliest open row (labelled_at, read order): the text a conflict's review row shows (c_text is
--      NULL when it is m_text, as it nearly always is: the state holds each text once where it can).
-- r_*: the newest row from a reviewed landing file (decided_labels): it settles the text.
-- labels, posts, open_files: distinct values of the open rows; files: of every row.
WITH fresh AS (
    SELECT * FROM new_labelled
),
old AS (
    SELECT * FROM s_labels WHERE key IN (SELECT key FROM fresh)
),
m_cand AS (
    SELECT key, m_text AS text, m_label AS label, m_post_id AS post_id, m_batch_dt AS batch_dt,
        m_labelled_at AS labelled_at, m_source_file AS source_file, m_file AS _file, m_rn AS _rn
    FROM old WHERE m_file IS NOT NULL
    UNION ALL
    SELECT key, text, label, post_id, batch_dt, labelled_at, source_file, _file, _rn
    FROM fresh WHERE NOT reviewed
),
m_pick AS (
    SELECT * FROM (
        SELECT *, row_number() OVER (PARTITION BY key ORDER BY labelled_at, post_id, _file, _rn) AS place
        FROM m_cand
    ) WHERE place = 1
),
c_cand AS (
    SELECT key, coalesce(c_text, m_text) AS text, c_labelled_at AS labelled_at, c_file AS _file, c_rn AS _rn
    FROM old WHERE c_file IS NOT NULL
    UNION ALL
    SELECT key, text, labelled_at, _file, _rn FROM fresh WHERE NOT reviewed
),
c_pick AS (
    SELECT * FROM (
        SELECT *, row_number() OVER (PARTITION BY key ORDER BY labelled_at, _file, _rn) AS place
        FROM c_cand
    ) WHERE place = 1
),
r_cand AS (
    SELECT key, r_text AS text, r_label AS label, r_post_id AS post_id, r_batch_dt AS batch_dt,
        r_labelled_at AS labelled_at, r_source_file AS source_file, r_file AS _file, r_rn AS _rn
    FROM old WHERE r_file IS NOT NULL
    UNION ALL
    SELECT key, text, label, post_id, batch_dt, labelled_at, source_file, _file, _rn
    FROM fresh WHERE reviewed
),
r_pick AS (
    SELECT * FROM (
        SELECT *, row_number() OVER (
            PARTITION BY key ORDER BY labelled_at DESC, source_file DESC, post_id DESC, _file DESC, _rn DESC
        ) AS place
        FROM r_cand
    ) WHERE place = 1
),
sets AS (
    SELECT
        key,
        min(first_batch) AS first_batch,
        max(last_batch) AS last_batch,
        min(first_seen) AS first_seen,
        list_sort(list_distinct(flatten(list(labels)))) AS labels,
        list_sort(list_distinct(flatten(list(posts)))) AS posts,
        list_sort(list_distinct(flatten(list(open_files)))) AS open_files,
        list_sort(list_distinct(flatten(list(files)))) AS files
    FROM (
        SELECT key, first_batch, last_batch, first_seen, labels, posts, open_files, files FROM old
        UNION ALL
        SELECT
            key,
            min(batch_dt),
            max(batch_dt),
            min(CASE WHEN NOT reviewed THEN labelled_at END),
            list(DISTINCT label) FILTER (WHERE NOT reviewed),
            list(DISTINCT nullif(post_id, '')) FILTER (WHERE NOT reviewed),
            list(DISTINCT nullif(source_file, '')) FILTER (WHERE NOT reviewed),
            list(DISTINCT source_file)
        FROM fresh
        GROUP BY key
    ) AS both_sides
    GROUP BY key
)
SELECT
    s.key, s.first_batch, s.last_batch, s.first_seen, s.labels, s.posts, s.open_files, s.files,
    m.text AS m_text, m.label AS m_label, m.post_id AS m_post_id, m.batch_dt AS m_batch_dt,
    m.labelled_at AS m_labelled_at, m.source_file AS m_source_file, m._file AS m_file, m._rn AS m_rn,
    CASE WHEN c.text IS DISTINCT FROM m.text THEN c.text END AS c_text, c.labelled_at AS c_labelled_at, c._file AS c_file, c._rn AS c_rn,
    r.text AS r_text, r.label AS r_label, r.post_id AS r_post_id, r.batch_dt AS r_batch_dt,
    r.labelled_at AS r_labelled_at, r.source_file AS r_source_file, r._file AS r_file, r._rn AS r_rn
FROM sets AS s
LEFT JOIN m_pick AS m USING (key)
LEFT JOIN c_pick AS c USING (key)
LEFT JOIN r_pick AS r USING (key)
