-- The candidate pairs (cohort_pairs) that chance does not explain: the Poisson tail P(X >= shared) at
-- the expected count is below alpha over the number of possible pairs of reporters (Bonferroni: about
-- alpha false links in all). poisson_tail is a vectorised function each engine registers (on Spark it
-- runs on the executors), so only the linked pairs leave the engine.
WITH tested AS (
    SELECT a, b, shared, expected, reporters,
        poisson_tail(CAST(shared AS DOUBLE), CAST(expected AS DOUBLE)) AS p
    FROM cohort_pairs
)
SELECT a, b, shared, expected, p
FROM tested
WHERE p < :cohort_alpha / greatest(CAST(reporters AS DOUBLE) * (reporters - 1) / 2, 1.0)
