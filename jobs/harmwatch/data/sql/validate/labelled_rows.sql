-- Every row check of a labelled run as a column (TRUE: the row fails it), in one pass over ``rows``
-- (the run's columns, ``key`` its text key, ``_row`` its position, ``_ts_epoch`` its parsed timestamp).
-- NULLs pass a check other than a presence one, as in the suite. The blank pattern matches any character
-- that is not whitespace.
WITH variants AS (
    SELECT key, count(DISTINCT label) AS n FROM rows GROUP BY key
), ranked AS (
    SELECT *,
        row_number() OVER (
            PARTITION BY post_id
            ORDER BY _ts_epoch DESC NULLS LAST, source_file DESC NULLS LAST, source_line DESC NULLS LAST, _row DESC
        ) AS _copy
    FROM rows
)
SELECT
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
    post_id IS NOT NULL AND _copy > 1 AS post_id_unique,
    _ts_epoch IS NULL AS timestamp_parses,
    coalesce(_ts_epoch > :as_of, FALSE) AS timestamp_not_future,
    coalesce(v.n, 0) > 1 AS label_variants
FROM ranked AS r
LEFT JOIN variants AS v ON v.key = r.key
