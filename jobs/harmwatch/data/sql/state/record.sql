-- Fold the day into the reporter records (s_record: votes on moderated texts and agreements per
-- reporter and reason). Only the texts the day touched (touched_keys) can change their votes' judgement:
-- their judgements as the old state had them are taken back (judged_before) and as the new state has
-- them are added (judged_after). A text that became conflicted withdraws its votes; one a review settled
-- re-judges them.
SELECT reporter_id, reason, CAST(sum(judged) AS BIGINT) AS judged, CAST(sum(agreements) AS BIGINT) AS agreements
FROM (
    SELECT reporter_id, reason, judged, agreements FROM s_record
    UNION ALL
    SELECT reporter_id, reason, -count(*), -sum(CASE WHEN agree THEN 1 ELSE 0 END)
    FROM judged_before
    GROUP BY reporter_id, reason
    UNION ALL
    SELECT reporter_id, reason, count(*), sum(CASE WHEN agree THEN 1 ELSE 0 END)
    FROM judged_after
    GROUP BY reporter_id, reason
)
GROUP BY reporter_id, reason
HAVING sum(judged) > 0
