-- Texts moderators labelled differently (and no review decision settled): they go to review.
SELECT kh
FROM open_labels
GROUP BY kh
HAVING count(DISTINCT label) > 1
