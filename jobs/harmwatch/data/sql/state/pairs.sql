-- Fold the day into the co-reporting pair counts (s_pairs: per reporters a < b, the texts both reported).
-- Only the texts the day's reports touch can gain a pair: their (reporter, text) pairs after the fold
-- (s_votes_next) against before it (s_votes), both met on the same text; a reporter's second vote on a
-- text, under another reason, adds nothing. The result is each changed pair's new count.
WITH before AS (
    SELECT DISTINCT reporter_id, key FROM s_votes WHERE key IN (SELECT key FROM changed_reports)
),
after AS (
    SELECT DISTINCT reporter_id, key FROM s_votes_next
),
met_after AS (
    SELECT x.key, x.reporter_id AS a, y.reporter_id AS b
    FROM after AS x JOIN after AS y ON x.key = y.key AND x.reporter_id < y.reporter_id
),
met_before AS (
    SELECT x.key, x.reporter_id AS a, y.reporter_id AS b
    FROM before AS x JOIN before AS y ON x.key = y.key AND x.reporter_id < y.reporter_id
),
gained AS (
    SELECT a, b, count(*) AS shared
    FROM (SELECT * FROM met_after EXCEPT SELECT * FROM met_before)
    GROUP BY a, b
)
SELECT g.a, g.b, CAST(g.shared + coalesce(p.shared, 0) AS BIGINT) AS shared
FROM gained AS g
LEFT JOIN s_pairs AS p ON p.a = g.a AND p.b = g.b
