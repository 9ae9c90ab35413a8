-- The evaluation anchor, drawn once: per label, the moderated texts whose seeded hash ranks lowest, as
-- many as the evaluation fraction of the label's texts (rounded half to even, as numpy rounds).
-- Order-independent and stratified.
SELECT key, kh, text, label, post_id
FROM (
    SELECT
        m.key, m.kh, m.text, m.label, m.post_id,
        row_number() OVER (PARTITION BY m.label ORDER BY sha256(:eval_seed || m.key)) AS place,
        count(*) OVER (PARTITION BY m.label) * :eval_fraction AS share
    FROM moderated AS m
) AS drawn
WHERE place <= CASE
    WHEN share - floor(share) > 0.5 THEN floor(share) + 1
    WHEN share - floor(share) < 0.5 THEN floor(share)
    ELSE floor(share) + floor(share) % 2
END
