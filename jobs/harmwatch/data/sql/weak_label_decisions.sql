-- One row per reported text: its leading reason, the counts, and why it waits ('' = accepted). The
-- first rule that holds it back names the reason: a rival reason as strong (only trusted votes tie,
-- with trusted_dissent), too few reporters (cohorts), unreliable supporters, the champion's
-- disagreement, and last a seeded random spot check of what would be accepted.
-- Numbers in the reasons are formatted as Python formats them. A value exactly halfway (at 2 decimals
-- only odd multiples of 1/8 are, at 3 only those of 1/16) is rounded half to even first, because Spark's
-- printf rounds such ties up; every other value prints alike on both engines. The rounded columns
-- round half to even at 4 decimals after scaling, as numpy does.
SELECT
    key,
    label,
    n_reporters,
    n_cohorts,
    votes,
    mean_reliability,
    champion_p_label,
    CASE
        WHEN tied THEN :disagree || ' (' || votes || ')'
        WHEN n < :min_reporters THEN
            CAST(n_reporters AS VARCHAR) || ' ' || :too_few || '(s)'
            || CASE
                WHEN :cohorts AND n_cohorts < n_reporters
                    THEN ' in ' || CAST(n_cohorts AS VARCHAR) || ' ' || :cohort_marker || '(s)'
                ELSE ''
            END
            || ' agree (policy needs ' || CAST(:min_reporters AS VARCHAR) || ')'
        WHEN rel < :min_reliability THEN
            :unreliable || ' '
            || printf('%.2f', CASE
                WHEN rel * 8 = floor(rel * 8) AND floor(rel * 8) % 2 = 1
                    THEN (floor(rel * 100) + floor(rel * 100) % 2) / 100
                ELSE rel
            END)
            || ' (policy needs ' || :min_reliability_text || ')'
        WHEN champion_p_label < :champion_floor THEN
            :champion_marker || ': p(label) '
            || printf('%.3f', CASE
                WHEN p * 16 = floor(p * 16) AND floor(p * 16) % 2 = 1
                    THEN (floor(p * 1000) + floor(p * 1000) % 2) / 1000
                ELSE p
            END)
            || ' < ' || :champion_floor_text
        WHEN substr(sha256(:spot_seed || key), 1, 8) < :spot_threshold THEN :spot_reason
        ELSE ''
    END AS review_reason
FROM (
    SELECT
        top.key,
        top.reason AS label,
        top.n_reporters,
        top.n_cohorts,
        top.n,
        top.rel,
        every.votes,
        (
            CASE
                WHEN top.rel * 10000 - floor(top.rel * 10000) > 0.5 THEN floor(top.rel * 10000) + 1
                WHEN top.rel * 10000 - floor(top.rel * 10000) < 0.5 THEN floor(top.rel * 10000)
                ELSE floor(top.rel * 10000) + floor(top.rel * 10000) % 2
            END
        ) / 10000 AS mean_reliability,
        s.p,
        (
            CASE
                WHEN s.p * 10000 - floor(s.p * 10000) > 0.5 THEN floor(s.p * 10000) + 1
                WHEN s.p * 10000 - floor(s.p * 10000) < 0.5 THEN floor(s.p * 10000)
                ELSE floor(s.p * 10000) + floor(s.p * 10000) % 2
            END
        ) / 10000 AS champion_p_label,
        coalesce(
            CASE
                WHEN :trusted_dissent THEN rival.n_trusted >= top.n_trusted AND top.n_trusted > 0
                ELSE rival.n = top.n
            END,
            FALSE
        ) AS tied
    FROM ranked_reasons AS top
    LEFT JOIN ranked_reasons AS rival ON rival.key = top.key AND rival.place = 2
    LEFT JOIN champion_scores AS s ON s.key = top.key AND s.label = top.reason
    JOIN (
        SELECT key, string_agg(reason || ' ' || CAST(n_reporters AS VARCHAR), ', ' ORDER BY place) AS votes
        FROM ranked_reasons
        GROUP BY key
    ) AS every ON every.key = top.key
    WHERE top.place = 1
) AS leader
