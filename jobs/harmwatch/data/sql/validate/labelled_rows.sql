-- Every row check of a labelled run as a column (TRUE: the row fails it), in one pass over ``rows``
-- (the run's columns, ``key`` its text key, ``_row`` its position, ``_ts_epoch`` its parsed timestamp).
-- NULLs pass a check other than a presence one, as in the suite. The blank pattern matches any character
-- that is not whitespace.
-- The two checks that look across rows are answered on narrow columns and joined back as the few rows
-- that fail them (texts under more than one label; the copies of an id that are not kept): no row moves
-- with its text to be grouped or ranked, and Spark broadcasts the failures instead of shuffling the run.
WITH variants AS (
    SELECT key FROM rows GROUP BY key HAVING min(label) <> max(label)
), repeated AS (
    SELECT post_id FROM rows WHERE post_id IS NOT NULL GROUP BY post_id HAVING count(*) > 1
), copies AS (
    SELECT _row
    FROM (
        SELECT /*+ BROADCAST(d) */ r._row,
            row_number() OVER (
                PARTITION BY r.post_id
                ORDER BY r._ts_epoch DESC NULLS LAST, r.source_file DESC NULLS LAST,
                    r.source_line DESC NULLS LAST, r._row DESC
            ) AS _copy
        FROM rows AS r
        JOIN repeated AS d ON d.post_id = r.post_id
    ) AS ranked
    WHERE _copy > 1
)
SELECT /*+ BROADCAST(c, v) */
    r.*,
    post_id IS NULL AS post_id_present,
    coalesce(NOT regexp_matches(CAST(post_id AS VARCHAR), :blank), FALSE) AS post_id_not_blank,
    text IS NULL AS text_present,
    coalesce(NOT regexp_matches(text, :blank), FALSE) AS text_not_blank,
    coalesce(length(text) NOT BETWEEN :min_text_len AND :max_text_len, FALSE) AS text_length,
    label IS NULL AS label_present,
    coalesce(NOT regexp_matches(label, :blank), FALSE) AS label_not_blank,
    coalesce(label NOT IN (:classes), FALSE) AS label_allowed,
    labelled_at IS NULL AS labelled_at_present,
    coalesce(NOT regexp_matches(labelled_at, :blank), FALSE) AS labelled_at_not_blank,
    c._row IS NOT NULL AS post_id_unique,
    _ts_epoch IS NULL AS timestamp_parses,
    coalesce(_ts_epoch > :as_of, FALSE) AS timestamp_not_future,
    v.key IS NOT NULL AS label_variants
FROM rows AS r
LEFT JOIN copies AS c ON c._row = r._row
LEFT JOIN variants AS v ON v.key = r.key
