-- The training snapshot: moderated texts and accepted weak labels outside the anchor. A weak label is
-- dated by its newest report (train's recency-aware budget).
SELECT key, kh, text, label, 'moderator' AS label_source, post_id, batch_dt
FROM moderated
WHERE key NOT IN (SELECT key FROM eval_snapshot)
UNION ALL
SELECT a.key, a.kh, a.text, a.label, 'reports' AS label_source, a.post_id, n.batch_dt
FROM accepted AS a
LEFT JOIN newest_report AS n ON n.key = a.key
WHERE a.key NOT IN (SELECT key FROM eval_snapshot)
