-- Per text and reason: distinct reporters, distinct cohorts, distinct trusted cohorts, mean reliability.
-- The mean is rounded to 9 decimals: a float sum depends on the order an engine adds in, so a mean of
-- exactly the policy's minimum (0.8 as 0.7999999999999999) would otherwise fall either side of it.
-- The pandas definition (weak_labels.tally) rounds alike.
SELECT
    key,
    reason,
    count(DISTINCT reporter_id) AS n_reporters,
    count(DISTINCT cohort) AS n_cohorts,
    count(DISTINCT CASE WHEN trusted THEN cohort END) AS n_trusted,
    round(avg(rel), 9) AS rel
FROM rated_votes
GROUP BY key, reason
