-- The reporter-reliability table: everything known now, smoothed by the Beta prior, and whether the
-- reporter is trusted (reliability at least the policy's minimum).
SELECT
    reporter_id,
    reports_on_labelled,
    agreements,
    reliability,
    reliability >= :min_reliability AS trusted
FROM (
    SELECT
        reporter_id,
        CAST(sum(judged) AS BIGINT) AS reports_on_labelled,
        CAST(sum(agreements) AS BIGINT) AS agreements,
        (sum(agreements) + :prior_agree) / (sum(judged) + :prior_agree + :prior_disagree) AS reliability
    FROM record
    GROUP BY reporter_id
) AS per_reporter
