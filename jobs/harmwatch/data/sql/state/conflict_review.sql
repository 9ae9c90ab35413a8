-- One review row per conflicted text, from its label state: the labels, posts and landing files seen,
-- the first text by label time, and why it waits (the full plan's conflict_review, read off the state).
SELECT
    key,
    coalesce(c_text, m_text) AS text,
    array_to_string(posts, '|') AS post_id,
    array_to_string(list_filter(labels, lambda x: x <> ''), '|') AS labels_seen,
    array_to_string(open_files, '|') AS source_files,
    first_seen,
    'conflicting moderator labels: ' || array_to_string(list_filter(labels, lambda x: x <> ''), '|') AS review_reason,
    'moderators' AS source
FROM s_labels
WHERE key IN (SELECT key FROM conflicted_keys)
