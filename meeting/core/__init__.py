"""What every module shares: the model base and mixins, domain errors, tokens, time, the audit log."""
