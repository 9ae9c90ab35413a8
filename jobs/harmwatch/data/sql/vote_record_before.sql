-- Each vote judged on its reporter's record as it stood before the vote (before_report): only
-- moderator labels dated strictly before the report count (under the vote's reason, with per_reason).
SELECT
    v.key,
    v.reporter_id,
    v.reason,
    count(j.reporter_id) AS judged,
    CAST(coalesce(sum(CASE WHEN j.agree THEN 1 ELSE 0 END), 0) AS BIGINT) AS agreements
FROM votes AS v
LEFT JOIN judged AS j
    ON j.reporter_id = v.reporter_id
    AND (NOT :per_reason OR j.reason = v.reason)
    AND TRY_CAST(j.labelled_at AS TIMESTAMPTZ) < TRY_CAST(v.reported_at AS TIMESTAMPTZ)
GROUP BY v.key, v.reporter_id, v.reason
