-- Each vote judged on its reporter's whole record (under the vote's reason only, with per_reason).
SELECT
    v.key,
    v.reporter_id,
    v.reason,
    CAST(coalesce(sum(r.judged), 0) AS BIGINT) AS judged,
    CAST(coalesce(sum(r.agreements), 0) AS BIGINT) AS agreements
FROM votes AS v
LEFT JOIN record AS r
    ON r.reporter_id = v.reporter_id AND (NOT :per_reason OR r.reason = v.reason)
GROUP BY v.key, v.reporter_id, v.reason
