-- The texts of a label state (labels_in) with a single moderator label: a reviewed label settles its
-- text; otherwise the earliest open row, unless the open rows disagree (a conflict). The key is the
-- text's ``kh`` here: the state's few rows are joined by the text itself.
SELECT
    key,
    key AS kh,
    coalesce(r_text, m_text) AS text,
    CASE WHEN r_file IS NOT NULL THEN r_label ELSE m_label END AS label,
    CASE WHEN r_file IS NOT NULL THEN r_post_id ELSE m_post_id END AS post_id,
    CASE WHEN r_file IS NOT NULL THEN r_batch_dt ELSE m_batch_dt END AS batch_dt,
    CASE WHEN r_file IS NOT NULL THEN r_labelled_at ELSE m_labelled_at END AS labelled_at,
    CASE WHEN r_file IS NOT NULL THEN r_source_file ELSE m_source_file END AS source_file
FROM labels_in
WHERE r_file IS NOT NULL OR (m_file IS NOT NULL AND len(coalesce(labels, [])) <= 1)
