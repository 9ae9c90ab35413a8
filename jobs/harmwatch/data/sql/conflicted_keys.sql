-- Texts moderators labelled differently (and no review decision settled): they go to review.
SELECT key
FROM open_labels
GROUP BY key
HAVING count(DISTINCT label) > 1
