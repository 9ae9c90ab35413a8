-- Every row check of a report run as a column (TRUE: the row fails it), in one pass over ``rows``
-- (the run's columns, ``_row`` its position, ``_ts_epoch`` its parsed timestamp). NULLs pass a check
-- other than a presence one, as in the suite. The blank pattern matches any character that is not whitespace.
-- Duplicated ids are ranked on narrow columns and joined back as the copies not kept (few rows, which
-- Spark broadcasts), so no row moves with its text to be ranked.
WITH repeated AS (
    SELECT report_id FROM rows WHERE report_id IS NOT NULL GROUP BY report_id HAVING count(*) > 1
), copies AS (
    SELECT _row
    FROM (
        SELECT /*+ BROADCAST(d) */ r._row,
            row_number() OVER (
                PARTITION BY r.report_id
                ORDER BY r._ts_epoch DESC NULLS LAST, r.source_file DESC NULLS LAST,
                    r.source_line DESC NULLS LAST, r._row DESC
            ) AS _copy
        FROM rows AS r
        JOIN repeated AS d ON d.report_id = r.report_id
    ) AS ranked
    WHERE _copy > 1
)
SELECT /*+ BROADCAST(c) */
    r.*,
    report_id IS NULL AS report_id_present,
    coalesce(NOT regexp_matches(CAST(report_id AS VARCHAR), :blank), FALSE) AS report_id_not_blank,
    post_id IS NULL AS post_id_present,
    coalesce(NOT regexp_matches(CAST(post_id AS VARCHAR), :blank), FALSE) AS post_id_not_blank,
    text IS NULL AS text_present,
    coalesce(NOT regexp_matches(text, :blank), FALSE) AS text_not_blank,
    coalesce(length(text) NOT BETWEEN :min_text_len AND :max_text_len, FALSE) AS text_length,
    reporter_id IS NULL AS reporter_id_present,
    coalesce(NOT regexp_matches(CAST(reporter_id AS VARCHAR), :blank), FALSE) AS reporter_id_not_blank,
    reason IS NULL AS reason_present,
    coalesce(NOT regexp_matches(reason, :blank), FALSE) AS reason_not_blank,
    coalesce(reason NOT IN (:classes), FALSE) AS reason_allowed,
    reported_at IS NULL AS reported_at_present,
    coalesce(NOT regexp_matches(reported_at, :blank), FALSE) AS reported_at_not_blank,
    c._row IS NOT NULL AS report_id_unique,
    _ts_epoch IS NULL AS timestamp_parses,
    coalesce(_ts_epoch > :as_of, FALSE) AS timestamp_not_future
FROM rows AS r
LEFT JOIN copies AS c ON c._row = r._row
