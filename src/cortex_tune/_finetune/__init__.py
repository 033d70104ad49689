"""Fine-tuning: jobs (create, list, describe, cancel, wait), the preflight check,
training-data references and the CREATE duplicate safety net."""
