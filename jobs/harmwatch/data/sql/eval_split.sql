-- The evaluation anchor, drawn once: per label, the moderated texts whose seeded hash ranks lowest, as
-- many as the evaluation fraction of the label's texts (rounded half to even, as numpy rounds).
-- Order-independent and stratified. The texts are ranked as narrow rows (label, hash, kh); only the
-- drawn ones are joined back to their text and post (on Spark the whole moderated table was shuffled and
-- sorted with its texts: 248 MiB at 16x).
WITH drawn AS (
    SELECT kh
    FROM (
        SELECT
            kh,
            row_number() OVER (PARTITION BY label ORDER BY sha256(:eval_seed || key)) AS place,
            count(*) OVER (PARTITION BY label) * :eval_fraction AS share
        FROM moderated
    ) AS ranked
    WHERE place <= CASE
        WHEN share - floor(share) > 0.5 THEN floor(share) + 1
        WHEN share - floor(share) < 0.5 THEN floor(share)
        ELSE floor(share) + floor(share) % 2
    END
)
SELECT /*+ BROADCAST(d) */ m.key, m.kh, m.text, m.label, m.post_id
FROM moderated AS m
JOIN drawn AS d ON d.kh = m.kh
