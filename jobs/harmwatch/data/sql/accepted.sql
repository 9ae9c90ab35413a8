-- Accepted weak labels: the decisions that passed every rule, with what the review row would show.
SELECT
    d.key, d.label, d.n_reporters, d.n_cohorts, d.votes, d.mean_reliability, d.champion_p_label,
    t.kh, t.text, t.post_id, t.n_reports, t.source_files, t.first_seen
FROM weak_label_decisions AS d
JOIN weak_label_texts AS t USING (key)
WHERE d.review_reason = ''
