-- Reports of texts no moderator decided (neither a single label nor a conflict): the weak-label
-- policy's input.
SELECT *
FROM reports
WHERE key NOT IN (SELECT key FROM moderated)
  AND key NOT IN (SELECT key FROM conflicted_keys)
