-- Votes with their reliability, whether the reporter is trusted, and their co-reporting cohort (with the
-- cohorts defence a cohort counts as one reporter; a reporter linked to nobody is their own cohort).
SELECT
    key,
    reporter_id,
    reason,
    rel,
    rel >= :min_reliability AS trusted,
    CASE WHEN :cohorts THEN coalesce(c.cohort, reporter_id) ELSE reporter_id END AS cohort
FROM (
    SELECT
        v.*,
        (v.agreements + :prior_agree) / (v.judged + :prior_agree + :prior_disagree) AS rel
    FROM vote_record AS v
) AS rated
LEFT JOIN cohort_members AS c USING (reporter_id)
