-- Texts moderators labelled differently (and no review decision settled): they go to review.
SELECT key FROM s_labels WHERE r_file IS NULL AND len(coalesce(labels, [])) > 1
