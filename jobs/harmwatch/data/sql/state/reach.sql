-- Fold the day into each reporter's reach (s_reach: the distinct texts they reported), from the
-- (reporter, text) pairs the fold adds: those of the touched texts after it and not before it.
WITH before AS (
    SELECT DISTINCT reporter_id, key FROM s_votes WHERE key IN (SELECT key FROM changed_reports)
),
fresh AS (
    SELECT reporter_id, count(*) AS texts
    FROM (SELECT DISTINCT reporter_id, key FROM s_votes_next EXCEPT SELECT * FROM before)
    GROUP BY reporter_id
)
SELECT reporter_id, CAST(sum(texts) AS BIGINT) AS texts
FROM (SELECT reporter_id, texts FROM s_reach UNION ALL SELECT reporter_id, texts FROM fresh)
GROUP BY reporter_id
