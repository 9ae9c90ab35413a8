-- Per text and reason: distinct reporters, distinct cohorts, distinct trusted cohorts, mean reliability.
SELECT
    key,
    reason,
    count(DISTINCT reporter_id) AS n_reporters,
    count(DISTINCT cohort) AS n_cohorts,
    count(DISTINCT CASE WHEN trusted THEN cohort END) AS n_trusted,
    avg(rel) AS rel
FROM rated_votes
GROUP BY key, reason
