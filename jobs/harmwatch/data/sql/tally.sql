-- Per text and reason: reporters, distinct cohorts, distinct trusted cohorts, mean reliability. A rated
-- vote is one row per text, reporter and reason (vote_record), so its reporters are counted without a
-- distinct (which cost a quarter of this query).
-- The mean is rounded to 9 decimals: a float sum depends on the order an engine adds in, so a mean of
-- exactly the policy's minimum (0.8 as 0.7999999999999999) would otherwise fall either side of it.
-- The pandas definition (weak_labels.tally) rounds alike.
SELECT
    key,
    reason,
    count(reporter_id) AS n_reporters,
    count(DISTINCT cohort) AS n_cohorts,
    count(DISTINCT CASE WHEN trusted THEN cohort END) AS n_trusted,
    round(avg(rel), 9) AS rel
FROM rated_votes
GROUP BY key, reason
