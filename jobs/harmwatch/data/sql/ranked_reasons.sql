-- Each text's reasons in the order the policy weighs them: trusted cohorts (with trusted_dissent),
-- then cohorts (with the cohorts defence, else reporters), then mean reliability, then the reason's name.
SELECT
    t.*,
    CASE WHEN :cohorts THEN n_cohorts ELSE n_reporters END AS n,
    row_number() OVER (
        PARTITION BY key
        ORDER BY
            CASE WHEN :trusted_dissent THEN n_trusted ELSE 0 END DESC,
            CASE WHEN :cohorts THEN n_cohorts ELSE n_reporters END DESC,
            rel DESC,
            reason
    ) AS place
FROM tally AS t
