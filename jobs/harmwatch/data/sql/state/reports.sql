-- Fold the new reports into the per-text report state (s_reports): the new rows of the texts the reports
-- touch (they replace the old ones). The first report's text (by
-- reported_at, report id, read order; w_*, what a weak label shows) and by reported_at and read order
-- (p_*, what the champion is asked about; p_text is NULL when it is w_text, as it nearly always is: the
-- state holds each text once where it can), the distinct posts, report ids and landing files, when it was
-- first reported and the newest batch its reports arrived in.
WITH old AS (
    SELECT * FROM s_reports WHERE key IN (SELECT key FROM new_reports)
),
w_pick AS (
    SELECT * FROM (
        SELECT *, row_number() OVER (PARTITION BY key ORDER BY reported_at, report_id, _file, _rn) AS place
        FROM (
            SELECT key, w_text AS text, w_reported_at AS reported_at, w_report_id AS report_id,
                w_file AS _file, w_rn AS _rn
            FROM old
            UNION ALL
            SELECT key, text, reported_at, report_id, _file, _rn FROM new_reports
        )
    ) WHERE place = 1
),
p_pick AS (
    SELECT * FROM (
        SELECT *, row_number() OVER (PARTITION BY key ORDER BY reported_at, _file, _rn) AS place
        FROM (
            SELECT key, coalesce(p_text, w_text) AS text, p_reported_at AS reported_at, p_file AS _file, p_rn AS _rn FROM old
            UNION ALL
            SELECT key, text, reported_at, _file, _rn FROM new_reports
        )
    ) WHERE place = 1
),
sets AS (
    SELECT
        key,
        min(first_seen) AS first_seen,
        max(newest_batch) AS newest_batch,
        list_sort(list_distinct(flatten(list(posts)))) AS posts,
        list_sort(list_distinct(flatten(list(report_ids)))) AS report_ids,
        list_sort(list_distinct(flatten(list(files)))) AS files
    FROM (
        SELECT key, first_seen, newest_batch, posts, report_ids, files FROM old
        UNION ALL
        SELECT
            key,
            min(reported_at),
            max(batch_dt),
            list(DISTINCT nullif(post_id, '')),
            list(DISTINCT report_id),
            list(DISTINCT nullif(source_file, ''))
        FROM new_reports
        GROUP BY key
    )
    GROUP BY key
)
SELECT
    s.key, s.first_seen, s.newest_batch, s.posts, s.report_ids, s.files,
    w.text AS w_text, w.reported_at AS w_reported_at, w.report_id AS w_report_id, w._file AS w_file,
    w._rn AS w_rn,
    CASE WHEN p.text IS DISTINCT FROM w.text THEN p.text END AS p_text, p.reported_at AS p_reported_at, p._file AS p_file, p._rn AS p_rn
FROM sets AS s
JOIN w_pick AS w USING (key)
JOIN p_pick AS p USING (key)
