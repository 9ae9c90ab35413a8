-- Reported texts held back, with the label the reports suggest and why they wait for a moderator.
SELECT
    d.key, d.label AS suggested_label, d.n_reporters, d.n_cohorts, d.votes, d.mean_reliability,
    d.champion_p_label, d.review_reason,
    t.text, t.post_id, t.n_reports, t.source_files, t.first_seen,
    'reports' AS source
FROM weak_label_decisions AS d
JOIN weak_label_texts AS t USING (key)
WHERE d.review_reason <> ''
