"""The moderation loop's pure cores: what goes to the moderators, in which order, and what comes back.

``review-push`` sends the review queue (build-dataset's texts that need a human) to Label Studio, highest
expected value first (:mod:`~harmwatch.review.ordering`), each task carrying its evidence
(:mod:`~harmwatch.review.tasks`). ``review-pull`` turns finished annotations into moderator labels in the
landing zone, with provenance, and sends disagreements to adjudication
(:mod:`~harmwatch.review.outcomes`). :mod:`~harmwatch.review.moderators` answers like a moderator from the
simulator's ground truth, so the loop runs in the demo and the benchmark.
"""
