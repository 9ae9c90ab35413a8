"""What serves the model steps: the classifier, fitting, scoring, the golden set, the evidence and model
card, the evaluation decision, and promotion planning."""
