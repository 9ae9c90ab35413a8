-- Each vote judged on its reporter's whole record (under the vote's reason only, with per_reason). The
-- record is summed per reporter (and reason) once, then joined to the votes: a vote is one row per text,
-- reporter and reason (votes.sql), so this is the sum per vote without joining every vote to every reason
-- of its reporter's record first.
SELECT
    v.key,
    v.reporter_id,
    v.reason,
    CAST(coalesce(r.judged, 0) AS BIGINT) AS judged,
    CAST(coalesce(r.agreements, 0) AS BIGINT) AS agreements
FROM votes AS v
LEFT JOIN (
    SELECT
        reporter_id,
        CASE WHEN :per_reason THEN reason END AS reason,
        sum(judged) AS judged,
        sum(agreements) AS agreements
    FROM record
    GROUP BY reporter_id, CASE WHEN :per_reason THEN reason END
) AS r
    ON r.reporter_id = v.reporter_id AND (NOT :per_reason OR r.reason = v.reason)
