"""What serves monitoring: drift inputs, text descriptors, the drift decision, and the moderation metrics."""
