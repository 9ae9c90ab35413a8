-- The full plan's candidate co-reporting pairs (cohort_pairs.sql) read off the state instead of a
-- self-join of every vote: the pairs' counts are s_pairs, each reporter's distinct texts s_reach, the
-- votes S1 their sum and the ordered pairs of votes on the same text S2 twice the pairs' counts
-- (sum over texts of n * (n - 1)).
WITH totals AS (
    SELECT
        CAST((SELECT sum(texts) FROM s_reach) AS DOUBLE) AS s1,
        CAST(2 * (SELECT coalesce(sum(shared), 0) FROM s_pairs) AS DOUBLE) AS s2
)
SELECT
    p.a,
    p.b,
    p.shared,
    na.texts * nb.texts * totals.s2 / (totals.s1 * totals.s1) AS expected,
    (SELECT count(*) FROM s_reach) AS reporters
FROM s_pairs AS p
JOIN s_reach AS na ON na.reporter_id = p.a
JOIN s_reach AS nb ON nb.reporter_id = p.b
CROSS JOIN totals
WHERE p.shared >= :min_shared
