-- Candidate co-reporting pairs: reporters a < b who reported at least min_shared of the same texts,
-- with the count chance gives two reporters this active, mu = n_a * n_b * S2 / S1^2 (S1: votes, S2:
-- ordered pairs of votes on the same text). The Poisson test and the grouping into cohorts run on this
-- small table. Each reporter's texts are taken once; the self-join only meets texts with two or more.
WITH pairs_of AS (
    SELECT DISTINCT reporter_id, kh FROM reports
),
per_text AS (
    SELECT kh, count(*) AS n FROM pairs_of GROUP BY kh
),
totals AS (
    SELECT CAST(sum(n) AS DOUBLE) AS s1, CAST(sum(n * (n - 1)) AS DOUBLE) AS s2 FROM per_text
),
active AS (
    SELECT reporter_id, count(*) AS n FROM pairs_of GROUP BY reporter_id
),
crowded AS (
    SELECT p.reporter_id, p.kh
    FROM pairs_of AS p
    JOIN per_text AS t ON t.kh = p.kh AND t.n > 1
),
shared AS (
    SELECT a.reporter_id AS a, b.reporter_id AS b, count(*) AS shared
    FROM crowded AS a
    JOIN crowded AS b ON a.kh = b.kh AND a.reporter_id < b.reporter_id
    GROUP BY a.reporter_id, b.reporter_id
    HAVING count(*) >= :min_shared
)
SELECT
    s.a,
    s.b,
    s.shared,
    na.n * nb.n * totals.s2 / (totals.s1 * totals.s1) AS expected,
    (SELECT count(*) FROM active) AS reporters
FROM shared AS s
JOIN active AS na ON na.reporter_id = s.a
JOIN active AS nb ON nb.reporter_id = s.b
CROSS JOIN totals
