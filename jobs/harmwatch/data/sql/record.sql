-- Every reporter's record per reason they named: votes on moderated texts and agreements. Counts add
-- up, so the per-reporter record is their sum.
SELECT
    reporter_id,
    reason,
    count(*) AS judged,
    CAST(sum(CASE WHEN agree THEN 1 ELSE 0 END) AS BIGINT) AS agreements
FROM judged
GROUP BY reporter_id, reason
