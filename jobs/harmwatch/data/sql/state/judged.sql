-- A reporter's vote on a moderated text (votes_in, moderated_in): their first report of it over all
-- reasons (by reported_at, report id, read order), with the moderator's label. A report on a benign post
-- is a disagreement (reports claim harm).
SELECT
    v.reporter_id,
    v.key,
    v.reason,
    m.label,
    m.labelled_at,
    v.reason = m.label AND m.label <> :benign AS agree
FROM (
    SELECT *, row_number() OVER (PARTITION BY reporter_id, key ORDER BY reported_at, report_id, _file, _rn) AS first
    FROM votes_in
) AS v
JOIN moderated_in AS m ON m.key = v.key
WHERE v.first = 1
