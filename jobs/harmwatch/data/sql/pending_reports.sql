-- Reports of texts no moderator decided (neither a single label nor a conflict): the weak-label
-- policy's input.
SELECT *
FROM reports
WHERE kh NOT IN (SELECT kh FROM moderated)
  AND kh NOT IN (SELECT kh FROM conflicted_keys)
