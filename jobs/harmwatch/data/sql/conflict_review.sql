-- One review row per conflicted text: the labels, posts and landing files seen (distinct, sorted,
-- '|'-joined, empty values left out), the first text by label time, and why it waits.
SELECT
    key,
    max(CASE WHEN earliest = 1 THEN text END) AS text,
    coalesce(array_to_string(array_sort(array_agg(DISTINCT nullif(post_id, ''))), '|'), '') AS post_id,
    coalesce(array_to_string(array_sort(array_agg(DISTINCT nullif(label, ''))), '|'), '') AS labels_seen,
    coalesce(
        array_to_string(array_sort(array_agg(DISTINCT nullif(source_file, ''))), '|'), ''
    ) AS source_files,
    min(labelled_at) AS first_seen,
    'conflicting moderator labels: '
    || coalesce(array_to_string(array_sort(array_agg(DISTINCT nullif(label, ''))), '|'), '') AS review_reason,
    'moderators' AS source
FROM (
    SELECT /*+ BROADCAST(c) */
        o.*,
        row_number() OVER (PARTITION BY o.kh ORDER BY o.labelled_at, o._row) AS earliest
    FROM open_labels AS o
    JOIN conflicted_keys AS c ON c.kh = o.kh  -- one row per text: a join, broadcast before the ranking
) AS conflicts
GROUP BY key
