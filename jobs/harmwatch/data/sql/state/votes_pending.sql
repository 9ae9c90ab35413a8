-- The weak-label policy's input: the votes on texts no moderator decided (neither a single label nor a
-- conflict), one per text, reporter and reason.
SELECT key, reporter_id, reason, reported_at
FROM s_votes
WHERE key NOT IN (SELECT key FROM moderated) AND key NOT IN (SELECT key FROM conflicted_keys)
