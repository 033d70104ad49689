"""What every capability stands on: constants, errors, models, parsing, identifiers,
literals, statements, retries, waiting and progress, and Cortex's documented rules and limits
(shared by the client's checks and the emulator)."""
